import { writeFileSync } from 'node:fs';
import { apiRoutes } from '../functions/api/routes.js';
import { openApiJson } from '../functions/api/openapi.js';

// `npm run openapi`: writes openapi.json from the route table and the request schemas. The
// routes are built without backends: only their paths, schemas and docs are read.

writeFileSync(new URL('../openapi.json', import.meta.url), openApiJson(apiRoutes(undefined as never)));
console.log('wrote openapi.json');
