// Passing tests print nothing. What the functions log goes through the Powertools Logger, which
// writes to stdout past Jest's console; it is dropped here unless TASKGATE_TEST_LOGS is set (to
// read a failing test's logs). A test that expects log lines captures them whatever the level
// (test/support/logs.ts captureLogs).
if (!process.env.TASKGATE_TEST_LOGS) process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
