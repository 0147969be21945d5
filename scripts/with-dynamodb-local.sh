#!/usr/bin/env bash
# Runs a command against DynamoDB Local (the jar shipped in the npm package amplify-dynamodb-simulator):
# starts it in memory on a free port, waits until it answers, runs the command with
# TASKGATE_DYNAMODB_ENDPOINT pointing at it, and stops it however the command ends.
# Usage: scripts/with-dynamodb-local.sh <command...>     (needs java 17+ on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

emulator=node_modules/amplify-dynamodb-simulator/emulator
if [ ! -f "$emulator/DynamoDBLocal.jar" ]; then
  echo "DynamoDB Local not found at $emulator (run npm ci)" >&2; exit 1
fi
command -v java >/dev/null || { echo "java is required for DynamoDB Local" >&2; exit 1; }

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
log=$(mktemp)
(cd "$emulator" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port "$port") >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

endpoint="http://127.0.0.1:$port"
# Any HTTP answer (DynamoDB Local answers 400 to a bare GET) means it is up.
answers() { node -e 'fetch(process.argv[1]).then(() => process.exit(0), () => process.exit(1))' "$endpoint"; }
for _ in $(seq 1 150); do
  if answers; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; echo "DynamoDB Local did not start" >&2; exit 1; fi
  sleep 0.2
done
answers || { cat "$log" >&2; echo "DynamoDB Local did not answer on $endpoint" >&2; exit 1; }
echo "DynamoDB Local on $endpoint"

export TASKGATE_DYNAMODB_ENDPOINT="$endpoint" AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_REGION=us-east-1
"$@"
