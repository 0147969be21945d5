// Every npm script runs the Node 24 that the `node` dev dependency puts first on PATH. If that did
// not install (or a script is run outside npm), stop here with one line instead of a crash later.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`taskgate needs Node.js 22 or newer; this is ${process.version}. Run \`npm ci\` (it installs Node 24 as a dev dependency for every npm script), or install Node 22+.`);
  process.exit(1);
}
