import type { Config } from '../../config/index.ts';
import type { Transport } from '../worker.ts';
import { TwilioGateway, VonageGateway, WebhookGateway } from './gateways.ts';

/** Thrown at start when the chosen gateway lacks a setting, naming it (like every config error). */
export class SmsConfigError extends Error {}

function need(config: Config, name: string): string {
  const v = config.raw[name];
  if (typeof v !== 'string' || !v) throw new SmsConfigError(`${name} is required when LATCHKEY_SMS_GATEWAY=${config.raw.LATCHKEY_SMS_GATEWAY}`);
  return v;
}

/** The configured gateway for channel 'sms', or undefined when none is (LATCHKEY_SMS_GATEWAY=none). */
export function smsGatewayFromConfig(config: Config): Transport | undefined {
  const kind = config.raw.LATCHKEY_SMS_GATEWAY as string | undefined;
  const o = { from: String(config.raw.LATCHKEY_SMS_FROM ?? 'Latchkey'), timeoutMs: Number(config.raw.LATCHKEY_SMS_TIMEOUT ?? 10_000) };
  switch (kind) {
    case 'twilio':
      return new TwilioGateway(need(config, 'LATCHKEY_TWILIO_BASE_URL'), need(config, 'LATCHKEY_TWILIO_ACCOUNT_SID'), need(config, 'LATCHKEY_TWILIO_AUTH_TOKEN'), o);
    case 'vonage':
      return new VonageGateway(need(config, 'LATCHKEY_VONAGE_BASE_URL'), need(config, 'LATCHKEY_VONAGE_API_KEY'), need(config, 'LATCHKEY_VONAGE_API_SECRET'), o);
    case 'webhook': {
      const secret = need(config, 'LATCHKEY_SMS_WEBHOOK_SECRET');
      if (secret.length < 32) throw new SmsConfigError('LATCHKEY_SMS_WEBHOOK_SECRET must be at least 32 characters');
      return new WebhookGateway(need(config, 'LATCHKEY_SMS_WEBHOOK_URL'), secret, o);
    }
    default:
      return undefined;
  }
}
