/**
 * Both ZooKeeper servers are real: a znode is created with digest auth and a creator-only ACL,
 * read back on the same session, and refused to a session without the credentials.
 */
import { connectZooKeeper, creatorAllAcl, zkConstants, type ZkClient } from '../../src/clients/zookeeper.js';
import { stackEnv, uniqueName } from './stack-env.js';

describe.each(['ZK_SOURCE', 'ZK_DESTINATION'] as const)('%s', (server) => {
  const clients: ZkClient[] = [];
  afterAll(() => clients.forEach((c) => c.close()));

  it('creates and reads a znode with digest auth, and refuses it without auth', async () => {
    const servers = [stackEnv()[server]];
    const owner = await connectZooKeeper({ servers, auth: { user: 'admin', password: 'password' } });
    const anonymous = await connectZooKeeper({ servers });
    const stranger = await connectZooKeeper({ servers, auth: { user: 'admin', password: 'wrong' } });
    clients.push(owner, anonymous, stranger);

    const path = `/${uniqueName('smoke')}`;
    await owner.create(path, Buffer.from('hello'), zkConstants.ZOO_PERSISTENT);
    await owner.set_acl(path, -1, creatorAllAcl());

    const [, data] = (await owner.get(path, false)) as [unknown, Buffer];
    expect(Buffer.from(data).toString()).toBe('hello');
    const acl: unknown = await owner.get_acl(path);
    expect(JSON.stringify(acl)).toContain('digest');

    await expect(anonymous.get(path, false)).rejects.toThrow(/-102|not authenticated|NOAUTH/i);
    await expect(stranger.get(path, false)).rejects.toThrow(/-102|not authenticated|NOAUTH/i);
  });
});
