import { GetConsoleOutputCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { NotFound } from '../../shared/errors.js';
import type { ConsoleReader } from '../consoleLog.js';
import { codeOf } from './failures.js';
import { isGone, serverInstance } from './observe.js';

/**
 * os-getConsoleOutput on EC2: GetConsoleOutput of the server's instance (found by its tags),
 * base64-decoded. `Latest` asks for the console as it is now, which only Nitro instances keep;
 * an instance type that refuses it gives what EC2 last captured (at its last start, reboot or stop).
 * A server whose instance is gone is Nova's InstanceNotFound (404).
 */
export function ec2Console(ec2: EC2Client, stack: string): ConsoleReader {
  return {
    async read(server) {
      const instance = await serverInstance(ec2, stack, server.id);
      if (!instance || isGone(instance)) throw new NotFound(`Instance ${server.id} could not be found.`);
      const ask = (latest: boolean) => ec2.send(new GetConsoleOutputCommand({ InstanceId: instance.id, ...(latest ? { Latest: true } : {}) }));
      const out = await ask(true).catch((err: unknown) => {
        if (codeOf(err) === 'UnsupportedOperation') return ask(false);
        throw err;
      });
      return Buffer.from(out.Output ?? '', 'base64').toString('utf8').replace(/\r\n/g, '\n').replace(/\n$/, '');
    },
  };
}
