// Starts the self-hosted Unleash server for Switchyard, configured only from the environment.
//
// Required: DATABASE_URL, UNLEASH_PORT, INIT_ADMIN_API_TOKENS, INIT_CLIENT_API_TOKENS,
//           UNLEASH_DEFAULT_ADMIN_USERNAME, UNLEASH_DEFAULT_ADMIN_PASSWORD.
// Optional: UNLEASH_HOST (default 127.0.0.1: loopback only), UNLEASH_ALLOW_LIST_INTEGRATION
//           (comma-separated hosts the webhook addon may call), LOG_LEVEL.
//
// Version checks and telemetry are always off: Switchyard runs air-gapped.
process.env.CHECK_VERSION = 'false';
process.env.SEND_TELEMETRY = 'false';
process.env.SCARF_ANALYTICS = 'false';
process.env.DO_NOT_TRACK = '1';

// Imported after the environment above is set: unleash-server reads some of it at load time.
const unleash = await import('unleash-server');

function required(name) {
    const value = process.env[name];
    if (!value) {
        console.error(`switchyard-unleash: environment variable ${name} is required`);
        process.exit(2);
    }
    return value;
}

const port = Number.parseInt(required('UNLEASH_PORT'), 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`switchyard-unleash: UNLEASH_PORT must be a TCP port, got ${process.env.UNLEASH_PORT}`);
    process.exit(2);
}
required('INIT_ADMIN_API_TOKENS');
required('INIT_CLIENT_API_TOKENS');
required('UNLEASH_DEFAULT_ADMIN_USERNAME');
required('UNLEASH_DEFAULT_ADMIN_PASSWORD');

const allowList = (process.env.UNLEASH_ALLOW_LIST_INTEGRATION || '')
    .split(',')
    .map((host) => host.trim())
    .filter((host) => host.length > 0);

unleash
    .start({
        db: { connectionString: required('DATABASE_URL'), ssl: false },
        server: { port, host: process.env.UNLEASH_HOST || '127.0.0.1' },
        versionCheck: { enable: false },
        telemetry: false,
        allowListIntegration: allowList,
        logLevel: process.env.LOG_LEVEL || 'warn',
    })
    .catch((error) => {
        console.error('switchyard-unleash: failed to start', error);
        process.exit(1);
    });
