/** restartPolicy of the run-once kinds, as on a Job. */
import { restartDelayMs, restartLimitOf, taskRunRestart } from '../../src/api/restart.js';

describe('restartLimitOf', () => {
  it.each([
    [{}, 0],
    [{ restartPolicy: 'Never' }, 0],
    [{ restartPolicy: 'Never', backoffLimit: 3 }, 0],
    [{ restartPolicy: 'OnFailure' }, 6],
    [{ restartPolicy: 'Always' }, 6],
    [{ restartPolicy: 'OnFailure', backoffLimit: 2 }, 2],
    [{ restartPolicy: 'OnFailure', backoffLimit: 0 }, 0],
    [{ restartPolicy: 'OnFailure', backoffLimit: -1 }, 6],
    [undefined, 0],
  ])('%j allows %i restarts', (spec, limit) => expect(restartLimitOf(spec)).toBe(limit));
});

describe('restartDelayMs', () => {
  it('doubles from 10 s and stops at 6 minutes, as a Job backs off', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(restartDelayMs)).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 360_000,
    ]);
  });
});

describe('taskRunRestart', () => {
  it.each([
    [{ restartPolicy: 'OnFailure', backoffLimit: 2 }, {}, { restartPolicy: 'OnFailure', backoffLimit: 2 }],
    [
      { restartPolicy: 'OnFailure', backoffLimit: 2 },
      { restartPolicy: 'Never' },
      { restartPolicy: 'Never', backoffLimit: 2 },
    ],
    [{ restartPolicy: 'OnFailure' }, { backoffLimit: 0 }, { restartPolicy: 'OnFailure', backoffLimit: 0 }],
    [undefined, { restartPolicy: 'OnFailure' }, { restartPolicy: 'OnFailure', backoffLimit: undefined }],
  ] as const)('Task %p, TaskRun %p → %p', (task, run, want) => {
    expect(taskRunRestart(task, run)).toEqual(want);
  });
});
