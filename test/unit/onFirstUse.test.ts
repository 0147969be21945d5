import { onFirstUse } from '../../functions/core/shared/onFirstUse.js';

// What a function loads on first use (functions/core/shared/onFirstUse.ts): loaded once and
// shared, and loaded again after a failure rather than failing for the life of the process.

it('loads with the first call, once, whatever the calls in flight', async () => {
  let loads = 0;
  const client = onFirstUse(async () => ({ n: ++loads }));
  expect(loads).toBe(0);
  const [a, b] = await Promise.all([client(), client()]);
  expect(a).toBe(b);
  expect(await client()).toBe(a);
  expect(loads).toBe(1);
});

it('loads again after a load that failed, then keeps what loaded', async () => {
  let loads = 0;
  const client = onFirstUse(async () => {
    loads++;
    if (loads === 1) throw new Error('the chunk failed to load');
    return { loads };
  });
  await expect(client()).rejects.toThrow('the chunk failed to load');
  const loaded = await client();
  expect(await client()).toBe(loaded);
  expect(loads).toBe(2);
});
