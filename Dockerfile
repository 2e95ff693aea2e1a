# The orchestrator's image: ghcr.io/resiliency-orchestrator/resiliency-orchestrator (k8s/install/deployment.yaml).
#
#   docker build -t ghcr.io/resiliency-orchestrator/resiliency-orchestrator:0.1.0 .
#
# Not built on the development machine, which has no container engine: this file is kept correct by
# reading, not by a build in CI. What it relies on, checked against the repository:
# - The image runs compiled JavaScript with plain node: `npm run build` (tools/build.ts) compiles
#   src/, activities/ and workflows/ to dist/ with tsc and bundles the workflows once, with the
#   Temporal SDK's bundleWorkflowCode, into dist/workflow-bundle.js. The compiled worker loads that
#   bundle (and logs "workflows: prebuilt bundle"): no tsx, no TypeScript and no webpack run at
#   start-up. test/integration/built-orchestrator.test.ts runs `node dist/src/main.js` on the local
#   stack. (`npm start` is the development entry `tools/dev.ts`: it brings up the local stack, then
#   runs the same code from source with tsx.)
# - Three stages. `deps`: the production dependencies alone (`npm ci --omit=dev`). The `zookeeper`
#   package compiles a native addon at install time (its bundled ZooKeeper C client with
#   configure/make, then node-gyp), hence python3, make and g++ there only. `build`: every
#   dependency (tsc, tsx and the SDK's bundler are devDependencies or come with them) with install
#   scripts off, since the build loads no native addon but the Temporal SDK's prebuilt one; it runs
#   `npm run build`. The last stage takes node_modules from `deps` and dist/ from `build`, and
#   package.json (`"type": "module"` makes node read dist/ as ES modules).
# - tools/ (the local-stack launcher, `npm start`'s dev entry) and test/ stay out: nothing in src/,
#   activities/ or workflows/ imports them (an ESLint rule keeps it so, and the build fails if dist/
#   holds anything but those three folders), and .dockerignore drops them, but for tools/build.ts,
#   which only the build stage has.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
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

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY tools/build.ts ./tools/build.ts
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The files belong to root and are read-only to the process; it runs as the image's `node` user
# (uid 1000, which the Deployment's runAsUser repeats for runAsNonRoot) and writes only to /tmp.
USER node
EXPOSE 9443
# Node itself, not npm (which would not forward SIGTERM). The Temporal worker shuts down cleanly on
# SIGTERM. Without --temporal-address or TEMPORAL_ADDRESS (the Deployment sets it) it exits 1 with
# one line saying so.
ENTRYPOINT ["node", "dist/src/main.js"]
