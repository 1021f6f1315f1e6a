/**
 * `@kbroker/zk-view/testing`: a real ZooKeeper (Debian's package) and kbroker processes for tests and
 * benchmarks of other packages (the migration tool's).
 */
export { type KbrokerDeployment, startKbroker } from './kbroker-procs.js';
export {
  freePorts,
  startZooKeeper,
  type ZooKeeperDeployment,
  zookeeperUnavailable,
} from './zookeeper-server.js';
