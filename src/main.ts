import { runAdminCommand } from './cli/commands.ts';
import { ConfigError, loadConfig } from './config/index.ts';
import { startServer } from './server.ts';
import { migrate, openStore } from './store/db.ts';

const USAGE = `usage: latchkey <command>

  serve              start the service (default)
  migrate            apply database migrations and exit
  accounts flagged   list accounts flagged as possibly compromised
  org create <slug> <name> [--display-name X] [--support-contact Y]
                     create an organization
  org add-admin <slug> <username|email> [--owner]
                     make an account an admin (or owner) of an organization
  staff add <username|email> --role support|admin
                     make an active account staff of the install (the console at /admin)
  staff remove <username|email>
                     take an account's staff role away
  staff list         list the staff, their roles and whether they have a second factor
  identifiers check  list accounts sharing an email once normalised, look-alike
                     usernames and usernames the rules refuse (exit 1 if any)
  identifiers normalise
                     once those are resolved by hand: store the normal forms of the
                     rows left unchanged, then list what is still left
  clients add --name N --redirect-uri URI [--public] [--first-party]
              [--backchannel-logout-uri URI] [--post-logout-redirect-uri URI]
                     register an app that signs in through Latchkey (prints its id and secret)
  clients list       list the registered apps
  clients remove <client-id>
                     remove an app and every grant and token issued to it
  keys rotate        new OpenID Provider signing key; the old one stays published
                     until its tokens expire
  help               this text

Configuration comes from LATCHKEY_* environment variables; see the README.`;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  if (command === 'migrate') {
    const store = openStore(config.databaseUrl, config.database);
    try {
      const applied = await migrate(store);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await store.close();
    }
    return 0;
  }
  if (command === 'serve') {
    const running = await startServer(config);
    const log = running.deps.log;
    const where = `${config.publicUrl}`;
    log.info({ url: where, engine: running.deps.engine }, `Latchkey listening on ${running.url} (public URL ${where})`);
    if (config.dev)
      console.log(
        `\n  Latchkey is running at ${where}\n  Development mailbox: ${where}/dev/mailbox${config.smtpUrl ? ' (mail goes to SMTP; only SMS land here)' : ' (every mail lands here)'}\n`,
      );
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight requests');
      const force = setTimeout(() => process.exit(1), 15_000);
      force.unref();
      await running.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    return -1;
  }
  return runAdminCommand(config, command, rest, USAGE);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(err);
    process.exit(1);
  },
);
