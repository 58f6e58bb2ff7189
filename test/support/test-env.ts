// Values the test setups and the tests agree on.
export const TEST_ADMIN = { email: 'admin@test.local', password: 'test-admin-password' };
// E2E_PORT lets two suites run side by side on one machine.
export const E2E_PORT = Number(process.env.E2E_PORT || 3100);
export const E2E_BASE_URL = `http://127.0.0.1:${E2E_PORT}`;
