# The orchestrator's image: ghcr.io/resiliency-orchestrator/resiliency-orchestrator (k8s/install/deployment.yaml).
#
#   docker build -t ghcr.io/resiliency-orchestrator/resiliency-orchestrator:0.1.0 .
#
# Not built on the development machine, which has no container engine: this file is kept correct by
# reading, not by a build in CI. What it relies on, checked against the repository:
# - The entry is `src/main.ts`, run by tsx, which is in `dependencies`, so `npm ci --omit=dev` keeps
#   it; the TypeScript sources are run as they are, there is no compile step. (`npm start` is the
#   development entry `tools/dev.ts`: it brings up the local stack, then runs the same code.)
# - The `zookeeper` package compiles a native addon at install time (its bundled ZooKeeper C client
#   with configure/make, then node-gyp), hence python3, make and g++ in the build stage only.
# - Temporal's worker bundles workflows/ with webpack and swc when it starts, so workflows/ ships as
#   source; so do src/, activities/ and tsconfig.json (tsx reads it).
# - tools/ (the local-stack launcher, `npm start`'s dev entry) and test/ stay out: nothing in src/,
#   activities/ or workflows/ imports them (an ESLint rule keeps it so), and .dockerignore drops them.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp compiles against the image's own Node headers instead of downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
# Then drop the addon's build left-overs: the ZooKeeper C client's sources and the object files
# (it is linked statically into build/Release/zookeeper.node, which stays).
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && rm -rf node_modules/zookeeper/deps/zookeeper-client-c node_modules/zookeeper/build/Release/obj.target

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json package-lock.json tsconfig.json ./
COPY --chown=root:root src ./src
COPY --chown=root:root workflows ./workflows
COPY --chown=root:root activities ./activities
# The files belong to root and are read-only to the process; it runs as the image's `node` user
# (uid 1000, which the Deployment's runAsUser repeats for runAsNonRoot) and writes only to /tmp.
USER node
EXPOSE 9443
# Node itself, not npm (which would not forward SIGTERM): `node --import tsx` is what `tsx src/main.ts`
# does, without the extra process. The Temporal worker shuts down cleanly on SIGTERM. Without
# --temporal-address or TEMPORAL_ADDRESS (the Deployment sets it) it exits 1 with one line saying so.
ENTRYPOINT ["node", "--import", "tsx", "src/main.ts"]
