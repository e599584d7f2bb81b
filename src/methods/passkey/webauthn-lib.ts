import type * as Lib from '@simplewebauthn/server';

// @simplewebauthn/server, loaded at the first passkey ceremony rather than at start: its CBOR,
// COSE and certificate parsers took 280 ms to import, paid by every process (and every test
// file) whether or not it ever sees a passkey. The four calls are async in the library already.

let lib: Promise<typeof Lib> | undefined;
const load = () => {
  lib ??= import('@simplewebauthn/server');
  return lib;
};

export const generateAuthenticationOptions: typeof Lib.generateAuthenticationOptions = async (o) =>
  (await load()).generateAuthenticationOptions(o);
export const generateRegistrationOptions: typeof Lib.generateRegistrationOptions = async (o) =>
  (await load()).generateRegistrationOptions(o);
export const verifyAuthenticationResponse: typeof Lib.verifyAuthenticationResponse = async (o) =>
  (await load()).verifyAuthenticationResponse(o);
export const verifyRegistrationResponse: typeof Lib.verifyRegistrationResponse = async (o) =>
  (await load()).verifyRegistrationResponse(o);
