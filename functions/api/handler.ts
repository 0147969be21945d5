import { apiLambda } from './lambda.js';

// The API Lambda's entry (lambda.ts): the simulated guest's console is read from the table.

export const handler = apiLambda();
