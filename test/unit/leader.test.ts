import {
  DEFAULT_LEASE_TIMING,
  LeaseObserver,
  nextRecord,
  releasedRecord,
  timingProblems,
} from '../../src/leader/lease.js';
import { liveness, readiness } from '../../src/probes/readiness.js';

const at = (iso: string) => new Date(iso);

describe('LeaseObserver: when a candidate takes a Lease over', () => {
  const held = (renewTime: string) => ({
    holderIdentity: 'a',
    leaseDurationSeconds: 15,
    acquireTime: at('2026-11-28T10:00:00Z'),
    renewTime: at(renewTime),
    leaseTransitions: 3,
  });

  it('waits while the holder keeps renewing, however far its clock is from ours', () => {
    const b = new LeaseObserver('b');
    // The holder's clock is an hour behind: its renewTime looks long expired to anyone who compared it.
    let t = 0;
    for (let i = 0; i < 30; i++, t += 2000) {
      const renewed = held(new Date(Date.parse('2026-11-28T09:00:00Z') + t).toISOString());
      expect(b.decide(renewed, t)).toEqual({ action: 'wait', holder: 'a' });
    }
  });

  it('waits while the holder keeps renewing with a clock ahead of ours', () => {
    const b = new LeaseObserver('b');
    for (let t = 0; t < 60_000; t += 2000) {
      const renewed = held(new Date(Date.parse('2026-11-28T11:00:00Z') + t).toISOString());
      expect(b.decide(renewed, t).action).toBe('wait');
    }
  });

  it('takes over once the record has not changed for the lease duration by its own clock', () => {
    const b = new LeaseObserver('b');
    const stale = held('2026-11-28T10:00:00Z');
    expect(b.decide(stale, 100_000).action).toBe('wait'); // first seen now: the full duration starts
    expect(b.decide(stale, 114_999).action).toBe('wait');
    expect(b.decide(stale, 115_001).action).toBe('acquire');
  });

  it('starts counting again when the record changes', () => {
    const b = new LeaseObserver('b');
    expect(b.decide(held('2026-11-28T10:00:00Z'), 0).action).toBe('wait');
    expect(b.decide(held('2026-11-28T10:00:10Z'), 14_000).action).toBe('wait');
    expect(b.decide(held('2026-11-28T10:00:10Z'), 20_000).action).toBe('wait');
    expect(b.decide(held('2026-11-28T10:00:10Z'), 29_001).action).toBe('acquire');
  });

  it('takes a released Lease (no holder) at once, and renews its own', () => {
    expect(
      new LeaseObserver('b').decide({ ...held('2026-11-28T10:00:00Z'), holderIdentity: '' }, 0).action,
    ).toBe('acquire');
    expect(new LeaseObserver('a').decide(held('2026-11-28T10:00:00Z'), 0).action).toBe('renew');
  });

  it('does not mistake its own write for someone else renewing', () => {
    const b = new LeaseObserver('b');
    const mine = nextRecord(held('2026-11-28T10:00:00Z'), 'b', 15_000, at('2026-11-28T10:01:00Z'));
    b.wrote(mine, 50_000);
    expect(b.decide(mine, 51_000).action).toBe('renew');
  });
});

describe('nextRecord and releasedRecord', () => {
  const now = at('2026-11-28T10:05:00Z');

  it('creates a Lease with no transition', () => {
    expect(nextRecord(undefined, 'a', 15_000, now)).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    });
  });

  it('renews keeping the acquire time and the transition count', () => {
    const acquired = at('2026-11-28T10:00:00Z');
    const current = { holderIdentity: 'a', acquireTime: acquired, renewTime: acquired, leaseTransitions: 2 };
    expect(nextRecord(current, 'a', 15_000, now)).toMatchObject({
      acquireTime: acquired,
      renewTime: now,
      leaseTransitions: 2,
    });
  });

  it('counts a take-over, from a holder or from a released Lease', () => {
    const current = { holderIdentity: 'a', leaseTransitions: 2 };
    expect(nextRecord(current, 'b', 15_000, now)).toMatchObject({ holderIdentity: 'b', leaseTransitions: 3 });
    const released = releasedRecord(current, now);
    expect(released).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    expect(nextRecord(released, 'b', 15_000, now).leaseTransitions).toBe(3);
  });
});

describe('timingProblems', () => {
  it('accepts client-go’s defaults', () => {
    expect(timingProblems(DEFAULT_LEASE_TIMING)).toEqual([]);
  });

  it.each([
    [
      { leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 },
      /lease-duration \(10s\) must be greater than --leader-election-renew-deadline \(10s\)/,
    ],
    [
      { leaseDurationMs: 15_000, renewDeadlineMs: 2000, retryPeriodMs: 2000 },
      /renew-deadline \(2s\) must be greater than 1.2 × --leader-election-retry-period \(2s\)/,
    ],
    [
      { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 0 },
      /--leader-election-retry-period: must be greater than 0/,
    ],
  ])('refuses %j, naming the flags', (timing, message) => {
    expect(timingProblems(timing).join('; ')).toMatch(message);
  });
});

describe('probes', () => {
  const polling = { runState: 'RUNNING', workflowPollerState: 'POLLING', activityPollerState: 'POLLING' };
  const leader = (leading: boolean, holder?: string) => ({
    leading,
    identity: 'pod-a_1',
    holder,
    lease: 'ns/l',
  });

  it('is live unless the worker failed, whatever else is down', () => {
    expect(liveness(polling).ok).toBe(true);
    expect(liveness({ ...polling, runState: 'DRAINING' }).ok).toBe(true);
    expect(liveness({ ...polling, runState: 'FAILED' })).toMatchObject({
      ok: false,
      checks: { worker: { ok: false, message: 'worker failed' } },
    });
  });

  it('is ready on a replica that does not lead, and says who does', () => {
    const a = readiness({ worker: polling, leader: leader(false, 'pod-b_2'), bridgeSynced: false });
    expect(a.ok).toBe(true);
    expect(a.checks.bridge.message).toBe('not the leader: pod-b_2 runs the CRD bridge');
    expect(a.leader).toEqual(leader(false, 'pod-b_2'));
  });

  it('is not ready on the leader until the bridge has synced', () => {
    expect(readiness({ worker: polling, leader: leader(true, 'pod-a_1'), bridgeSynced: false }).ok).toBe(
      false,
    );
    expect(readiness({ worker: polling, leader: leader(true, 'pod-a_1'), bridgeSynced: true }).ok).toBe(true);
    // Without leader election the process runs the bridge itself.
    expect(readiness({ worker: polling, bridgeSynced: false }).checks.bridge.ok).toBe(false);
    expect(readiness({ worker: polling }).checks.bridge).toBeUndefined();
  });

  it.each([
    [
      { temporalError: 'connect ECONNREFUSED' },
      'temporal',
      'Temporal frontend does not answer: connect ECONNREFUSED',
    ],
    [{ worker: { ...polling, activityPollerState: 'SHUTDOWN' } }, 'worker', 'activity poller shutdown'],
    [{ worker: { ...polling, runState: 'DRAINING' } }, 'worker', 'worker draining'],
    [{ webhookListening: false }, 'webhook', 'audit webhook not listening'],
  ])('is not ready when %j', (facts, check, message) => {
    const a = readiness({ worker: polling, ...facts });
    expect(a.ok).toBe(false);
    expect(a.checks[check]).toEqual({ ok: false, message });
  });
});
