// A real OpenID provider for Accord's single sign-on tests: panva's oidc-provider, shaped like
// ProConnect (the French public agents' federation). Started by tests/oidc/provider.py:
//
//     node tests/oidc/provider.mjs   (settings in the environment, see below)
//
// It listens on a free port of 127.0.0.1, then prints one JSON line on stdout,
// {"issuer": "http://127.0.0.1:PORT"}, and serves until it is terminated. Like ProConnect:
//
// - the authorization code flow for one confidential client (client_secret_post), whose
//   redirect URI and post-logout redirect URI come from the environment: OIDC_CLIENT_ID,
//   OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_POST_LOGOUT_REDIRECT_URI;
// - ProConnect's endpoints under the issuer (/authorize, /token, /userinfo, /jwks,
//   /session/end) and its scopes (openid email given_name usual_name uid siret), acr eidas1;
// - state and nonce required, no PKCE (ProConnect refuses any parameter it does not know);
// - the ID token signed RS256 with a key made at start, and the userinfo answered as a JWT
//   signed the same way (Content-Type application/jwt);
// - log-out through the end_session endpoint with id_token_hint, straight back to the client.
//
// Its log-in page stands in for the identity provider's: whatever e-mail address is typed is the
// account (sub derived from it), so a test logs in as anyone. "Annuler" refuses the log-in
// (access_denied). No page loads anything from outside 127.0.0.1.

import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";

import Provider from "oidc-provider";

const settings = {};
for (const name of [
  "OIDC_CLIENT_ID",
  "OIDC_CLIENT_SECRET",
  "OIDC_REDIRECT_URI",
  "OIDC_POST_LOGOUT_REDIRECT_URI",
]) {
  if (!process.env[name]) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  settings[name] = process.env[name];
}

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: "test-rs256", alg: "RS256", use: "sig" };

// Accounts by sub: the e-mail address typed on the log-in page, and the claims it gets.
const accounts = new Map();

function accountFor(email) {
  const sub = createHash("sha256").update(email).digest("hex");
  const local = email.split("@")[0];
  accounts.set(sub, {
    sub,
    email,
    given_name: local.split(".")[0] || local,
    usual_name: (local.split(".")[1] || "agent").toUpperCase(),
    uid: `uid-${sub.slice(0, 8)}`,
    siret: "21690123100011",
  });
  return sub;
}

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title, body) => `<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

const configuration = {
  clients: [
    {
      client_id: settings.OIDC_CLIENT_ID,
      client_secret: settings.OIDC_CLIENT_SECRET,
      redirect_uris: [settings.OIDC_REDIRECT_URI],
      post_logout_redirect_uris: [settings.OIDC_POST_LOGOUT_REDIRECT_URI],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: "RS256",
      userinfo_signed_response_alg: "RS256",
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  routes: {
    authorization: "/authorize",
    token: "/token",
    userinfo: "/userinfo",
    jwks: "/jwks",
    end_session: "/session/end",
  },
  scopes: ["openid", "email", "given_name", "usual_name", "uid", "siret"],
  claims: {
    openid: ["sub"],
    email: ["email"],
    given_name: ["given_name"],
    usual_name: ["usual_name"],
    uid: ["uid"],
    siret: ["siret"],
    acr: null,
    amr: null,
    auth_time: null,
  },
  acrValues: ["eidas1"],
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: false },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // ProConnect logs out at once: the confirmation form is sent by the page itself.
      async logoutSource(ctx, form) {
        ctx.body = page(
          "Déconnexion",
          `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes"
            id="confirm">Se déconnecter</button>
          <script>document.getElementById("confirm").click()</script>`,
        );
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ ...account }) };
  },
  async renderError(ctx, out) {
    ctx.type = "html";
    ctx.body = page(
      "Erreur",
      Object.entries(out)
        .map(([key, value]) => `<p><strong>${escape(key)}</strong>: ${escape(value)}</p>`)
        .join(""),
    );
  },
};

function loginForm(uid, clientId, message = "") {
  return page(
    "Connexion à ProConnect (test)",
    `<p>Le service ${escape(clientId)} demande votre identité.</p>
    ${message ? `<p role="alert">${escape(message)}</p>` : ""}
    <form method="post" action="/interaction/${escape(uid)}">
      <label for="email">Adresse électronique professionnelle</label>
      <input id="email" name="email" type="email" autocomplete="email">
      <button type="submit" name="action" value="login">Continuer</button>
      <button type="submit" name="action" value="cancel">Annuler</button>
    </form>`,
  );
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(res, status, html) {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  res.end(html);
}

async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === "GET") {
    if (prompt.name === "login") return send(res, 200, loginForm(uid, params.client_id));
    // Already logged in at the provider: only the client's grant is missing.
    return finish(provider, req, res, details, session.accountId);
  }
  const form = await readForm(req);
  if (form.get("action") === "cancel") {
    return provider.interactionFinished(
      req,
      res,
      { error: "access_denied", error_description: "the person cancelled the log-in" },
      { mergeWithLastSubmission: false },
    );
  }
  const email = (form.get("email") || "").trim();
  if (!email.includes("@")) {
    return send(res, 200, loginForm(uid, params.client_id, "Saisissez votre adresse."));
  }
  return finish(provider, req, res, details, accountFor(email), true);
}

async function finish(provider, req, res, details, accountId, loggingIn = false) {
  // Every scope the client asked for is granted: ProConnect asks no consent of its agents.
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const result = { consent: { grantId } };
  if (loggingIn) result.login = { accountId, acr: "eidas1", amr: ["pwd"] };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const server = createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  const handle = provider.callback();
  server.on("request", (req, res) => {
    if (req.url.startsWith("/interaction/")) {
      interaction(provider, req, res).catch((error) => {
        console.error(error);
        send(res, 500, page("Erreur", `<p>${escape(error.message)}</p>`));
      });
    } else {
      handle(req, res);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
