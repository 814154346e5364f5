// The browser side of passkeys: turning the server's WebAuthn options (JSON, binary fields
// as base64url) into what navigator.credentials expects, and the resulting credential back
// into JSON. Written by hand because the JSON helpers browsers are adding
// (PublicKeyCredential.parseCreationOptionsFromJSON, toJSON) are not everywhere yet.

export function base64urlToBuffer(value: string): ArrayBuffer {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

export function bufferToBase64url(value: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

interface JsonDescriptor {
  id: string;
  type: string;
  transports?: string[];
}

type Json = Record<string, unknown>;

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return (list as JsonDescriptor[]).map((d) => ({
    ...d,
    id: base64urlToBuffer(d.id),
    type: 'public-key',
    transports: d.transports as AuthenticatorTransport[] | undefined,
  }));
}

/** `{"publicKey":{…}}` from `POST /api/account/passkeys` → options for `credentials.create`. */
export function creationOptions(options: { publicKey: Json }): CredentialCreationOptions {
  const pk = options.publicKey;
  const user = pk.user as Json;
  return {
    publicKey: {
      ...(pk as unknown as PublicKeyCredentialCreationOptions),
      challenge: base64urlToBuffer(pk.challenge as string),
      user: { ...(user as unknown as PublicKeyCredentialUserEntity), id: base64urlToBuffer(user.id as string) },
      excludeCredentials: descriptors(pk.excludeCredentials),
    },
  };
}

/** `{"publicKey":{…}}` from `POST /api/session/passkey` → options for `credentials.get`. */
export function requestOptions(options: { publicKey: Json }): CredentialRequestOptions {
  const pk = options.publicKey;
  return {
    publicKey: {
      ...(pk as unknown as PublicKeyCredentialRequestOptions),
      challenge: base64urlToBuffer(pk.challenge as string),
      allowCredentials: descriptors(pk.allowCredentials),
    },
  };
}

/** A credential from `credentials.create` or `.get`, as the server reads it. */
export function credentialToJson(credential: PublicKeyCredential): Json {
  const r = credential.response;
  const response: Json = { clientDataJSON: bufferToBase64url(r.clientDataJSON) };
  if ('attestationObject' in r) {
    const att = r as AuthenticatorAttestationResponse;
    response.attestationObject = bufferToBase64url(att.attestationObject);
    response.transports = typeof att.getTransports === 'function' ? att.getTransports() : [];
  } else {
    const assertion = r as AuthenticatorAssertionResponse;
    response.authenticatorData = bufferToBase64url(assertion.authenticatorData);
    response.signature = bufferToBase64url(assertion.signature);
    response.userHandle = assertion.userHandle ? bufferToBase64url(assertion.userHandle) : null;
  }
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    response,
    extensions: credential.getClientExtensionResults?.() ?? {},
  };
}

/** Whether this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

/** What to tell the user when the browser's WebAuthn call fails. */
export function webauthnErrorMessage(err: unknown): string {
  if (err instanceof DOMException) {
    if (err.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out. Try again.';
    if (err.name === 'InvalidStateError') return 'This device already has a passkey for your account.';
    if (err.name === 'SecurityError')
      return 'Passkeys do not work at this address. Open NEXUS at its domain name (or localhost).';
  }
  return 'The passkey could not be used. Try again, or sign in with your password.';
}
