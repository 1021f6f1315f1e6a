/**
 * `metadata().watch()` across a restart of the node its connection uses: every change is delivered
 * exactly once and in order, before, during and after the outage. The client is bootstrapped with that
 * one node only, so the watch must discover the others to fail over; the delivered sequence is checked
 * both against the expected changes and against a fresh watch replaying the same range from a node
 * that never went down.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker, KbrokerError, type MetadataEvent, type MetadataWatch } from '@kbroker/client';
import { waitFor } from '@kbroker/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';

const GROUP = 'watchers';

let cluster: InProcessCluster | undefined;
const clients: Kbroker[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await cluster?.stop();
  cluster = undefined;
});

function newClient(brokers: readonly string[]): Kbroker {
  const client = new Kbroker({ brokers, clientId: 'watch-restart', requestTimeoutMs: 5_000 });
  clients.push(client);
  return client;
}

/** The broker address the watch is subscribed on, if any (the watch's internals). */
function watchedNode(watch: MetadataWatch): string | undefined {
  return (watch as unknown as { subscription?: { conn: { key: string } } }).subscription?.conn.key;
}

/** Consumes a watch with its async iterator; `check()` rethrows a failure of the watch. */
function collect(watch: MetadataWatch) {
  const events: MetadataEvent[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const e of watch) events.push(e);
    } catch (err) {
      failure = err;
    }
  })();
  return {
    events,
    done,
    check(): void {
      if (failure !== undefined) throw failure;
    },
  };
}

/**
 * Runs one write until it succeeds. A retriable error (the controller moving, a connection lost)
 * may hide a write that was applied: repeating it is safe here (createTopics then answers
 * TOPIC_ALREADY_EXISTS, i.e. `false`, and the topic-created event exists once in the log).
 */
async function untilDone(what: string, write: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (err) {
      if (!(err instanceof KbrokerError) || !err.retriable || Date.now() > deadline) {
        throw new Error(`${what} failed`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 500)));
    }
  }
}

function topicsCreated(events: readonly MetadataEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'topic-created' ? [e.topic] : []));
}

function commitsOf(events: readonly MetadataEvent[]): number {
  return events.filter((e) => e.type === 'offsets-committed' && e.groupId === GROUP).length;
}

/** Distinct offsets in delivery order: strictly increasing when nothing is repeated or reordered. */
function offsetGroups(events: readonly MetadataEvent[]): number[] {
  const out: number[] = [];
  for (const e of events) if (out.at(-1) !== e.offset) out.push(e.offset);
  return out;
}

interface Scenario {
  /** Which node the watch uses (and which goes down). */
  readonly target: 'follower' | 'controller';
  readonly outage: 'kill' | 'stop';
  /** Call `client.connect()` before watching (else the watch alone must learn the cluster). */
  readonly connectFirst: boolean;
}

async function runScenario(s: Scenario): Promise<void> {
  // A short session: a killed broker is fenced (and its restart unfenced) within seconds.
  cluster = await startCluster({ nodes: 3, sessionTimeoutMs: 3_000 });
  const c = cluster;
  const controllerId = (await c.controller()).nodeId;
  const targetId =
    s.target === 'controller' ? controllerId : c.nodes.find((n) => n.nodeId !== controllerId)!.nodeId;
  const targetAddress = c.node(targetId).address;
  const survivor = c.nodes.find((n) => n.nodeId !== targetId)!.address;

  // The watching client knows only the target; the writer knows every node.
  const client = newClient([targetAddress]);
  if (s.connectFirst) await client.connect();
  const watch = client.metadata().watch();
  const got = collect(watch);
  await waitFor(() => {
    got.check();
    return watchedNode(watch) !== undefined;
  }, 'the watch subscribed');
  expect(watchedNode(watch)).toBe(targetAddress);
  const start = watch.offset;

  const writer = newClient(c.brokers);
  const admin = writer.admin();
  const offsets = writer.offsets();
  const expectedTopics: string[] = [];
  let commits = 0;
  const generate = async (phase: string): Promise<void> => {
    for (let i = 0; i < 4; i++) {
      const topic = `${phase}-${i}`;
      await untilDone(`create ${topic}`, () =>
        admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: false }),
      );
      expectedTopics.push(topic);
      await untilDone(`commit ${topic}`, () =>
        offsets.commit(GROUP, [
          { topic, partition: 0, offset: 10 + i },
          { topic, partition: 1, offset: 20 + i },
        ]),
      );
      commits++;
    }
  };
  const delivered = (what: string) =>
    waitFor(() => {
      got.check();
      const topics = topicsCreated(got.events);
      return expectedTopics.every((t) => topics.includes(t)) && commitsOf(got.events) >= commits;
    }, what);

  await generate('before');
  await delivered('the changes before the outage');

  if (s.outage === 'kill') await c.killNode(targetId);
  else await c.stopNode(targetId);
  await generate('during');
  // Delivered while the node is down: the watch moved to another node.
  await delivered('the changes during the outage');
  expect(watchedNode(watch)).not.toBe(targetAddress);

  await c.restartNode(targetId);
  await c.waitUntilReady();
  await generate('after');
  await delivered('the changes after the restart');

  // Each expected topic-created exactly once, nothing unexpected, in creation order.
  const created = topicsCreated(got.events);
  expect(created).toEqual(expectedTopics);
  // Every commit at least once (a write retried after an unknown outcome may be applied twice, as
  // two log records), and never an event delivered twice: offsets strictly increase group by group.
  expect(commitsOf(got.events)).toBeGreaterThanOrEqual(commits);
  const groups = offsetGroups(got.events);
  for (let i = 1; i < groups.length; i++) expect(groups[i]!).toBeGreaterThan(groups[i - 1]!);
  expect(groups[0]!).toBeGreaterThan(start);

  // No gap: a fresh watch replaying the same range from a node that never went down sees the same.
  const last = watch.offset;
  const reference = newClient([survivor]).metadata().watch({ fromOffset: start });
  const ref = collect(reference);
  await waitFor(() => {
    ref.check();
    return reference.offset >= last;
  }, 'the reference watch caught up');
  await reference.close();
  expect(got.events.filter((e) => e.offset <= last)).toEqual(ref.events.filter((e) => e.offset <= last));

  await watch.close();
  await got.done;
}

describe('metadata watch across a restart of its node', () => {
  it('kill -9 of a follower the watch is connected to (bootstrap = that node, no connect())', async () => {
    await runScenario({ target: 'follower', outage: 'kill', connectFirst: false });
  });

  it('controlled shutdown of the active controller the watch is connected to', async () => {
    await runScenario({ target: 'controller', outage: 'stop', connectFirst: true });
  });

  it('kill -9 of the active controller the watch is connected to', async () => {
    await runScenario({ target: 'controller', outage: 'kill', connectFirst: false });
  });
});
