import type { Config } from '../../config/index.ts';
import type { Transport } from '../worker.ts';
import { TwilioGateway, VonageGateway, WebhookGateway } from './gateways.ts';

/**
 * The configured gateway for channel 'sms', or undefined when none is (LATCHKEY_SMS_GATEWAY=none).
 * A gateway missing a setting already stopped the start with a ConfigError (src/config/sections.ts).
 */
export function smsGatewayFromConfig(config: Config): Transport | undefined {
  const g = config.sms.gateway;
  const o = { from: config.sms.from, timeoutMs: config.sms.timeoutMs };
  switch (g.kind) {
    case 'twilio':
      return new TwilioGateway(g.baseUrl, g.accountSid, g.authToken, o);
    case 'vonage':
      return new VonageGateway(g.baseUrl, g.apiKey, g.apiSecret, o);
    case 'webhook':
      return new WebhookGateway(g.url, g.secret, o);
    case 'none':
      return undefined;
  }
}
