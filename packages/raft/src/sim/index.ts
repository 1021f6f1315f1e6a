/**
 * The deterministic simulation harness (`@kbroker/raft/testing`): a seeded discrete-event cluster of
 * RaftCores with simulated disks, network faults, a nemesis, clients and named safety invariants.
 *
 * Whole randomized runs, with your own state machine, commands and extra invariants:
 *
 *   runSimulation({
 *     seed,
 *     stateMachine: () => new MyStateMachine(),            // SimStateMachine: apply/snapshot/restore
 *     workload: { command: (n, rng) => encodeMyCommand(n, rng) },
 *     invariants: () => [...defaultInvariants(), myInvariant()],
 *   });
 *
 * Scripted scenarios: `new Cluster({ seed, voters: 3 })`, `start()`, then `propose`/`read`/`partition`/
 * `crash`/`restart` and `runFor`/`runUntilCondition`; `awaitFreshCommit` and `finalCheck` close a run.
 * Every failure is a SimFailure naming the invariant, the seed, the virtual time and the event number.
 */
export { Cluster, type ClusterOptions, memberOf, membershipOf, SimFailure } from './cluster.js';
export {
  atMostOneLeaderPerTerm,
  atMostOneUncommittedMembershipChange,
  commitIndexMonotonic,
  committedPrefixesIdentical,
  defaultInvariants,
  describeEntry,
  durableVoteStable,
  type FinalState,
  type Invariant,
  leaderCompleteness,
  logMatching,
  type NodeView,
  noAcknowledgedProposalLost,
  type Observation,
  type ProposalRecord,
  type ReadRecord,
  readLinearizable,
  sameEntry,
  stateMachineSafety,
  stateMachinesConverge,
  type World,
} from './invariants.js';
export { NEMESIS_WEIGHTS, Nemesis, type NemesisAction, type NemesisPlan } from './nemesis.js';
export { freePorts, waitFor } from './net-helpers.js';
export { CALM_NETWORK, describeMessage, type NetworkConfig, SimNetwork } from './network.js';
export { type NodeOptions, SimNode } from './node.js';
export { EventQueue, type SimEvent } from './queue.js';
export { Rng } from './rng.js';
export {
  awaitFreshCommit,
  type Intensity,
  type PlanOverrides,
  planRun,
  type RunPlan,
  runSeeds,
  runSimulation,
  type SeedFailure,
  type SimOptions,
  type SimResult,
} from './simulation.js';
export {
  bytesEqual,
  deepEqual,
  LogStateMachine,
  type SimStateMachine,
  type StateMachineFactory,
} from './state-machine.js';
export { DurableStore, EntryLog, type PersistBatch } from './storage.js';
export { type ClientPlan, ClientWorkload, uniquePayloads, type Workload } from './workload.js';
