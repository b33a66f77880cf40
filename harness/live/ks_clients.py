"""Configuration that points KS's own Fiks IO clients at the harness's local Fiks IO.

A vendor changes configuration only, never code: these snippets set, for KS's Java
client (fiks-io-klient-java) and .NET client (fiks-io-client-dotnet), every setting
that decides where the client connects and which keys it uses, with the values of
a local run. The setting names are the ones the clients' sources use (as recorded
in the project's Fiks IO notes); the snippets were NOT compiled against the real
clients, which cannot be installed on the machines this project is built on (no
Maven or NuGet registry): treat them as a checked list of settings, and the code
around them as a sketch to adapt.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("java", "dotnet")


@dataclass(frozen=True)
class Endpoints:
    """Where the local Fiks IO listens, and the identities a run uses."""

    api_host: str = "127.0.0.1"
    api_port: str = "<HTTP_PORT>"  # the harness's HTTP server: send API, catalogue, documents
    api_scheme: str = "http"
    amqp_host: str = "127.0.0.1"
    amqp_tls_port: str = "<AMQPS_PORT>"
    vhost: str = "/"
    account_id: str = "<ACCOUNT_ID>"
    integration_id: str = "<INTEGRATION_ID>"
    integration_password: str = "<INTEGRATION_PASSWORD>"
    keys: str = "harness-keys"  # the folder `harness fiksio keys` wrote

    @property
    def api(self) -> str:
        return f"{self.api_scheme}://{self.api_host}:{self.api_port}"


def java(e: Endpoints) -> str:
    return f"""// Local Fiks IO of `harness` for KS's fiks-io-klient-java. Configuration only:
// the service's own code does not change. Every value here is for tests.
//
// JVM flags: the client always uses TLS to the broker and trusts the JVM's truststore
// (it never enables hostname verification):
//   -Djavax.net.ssl.trustStore={e.keys}/harness-truststore.p12
//   -Djavax.net.ssl.trustStorePassword=harness-test
//   (make it with the keytool line in {e.keys}/README.txt)

FiksApiKonfigurasjon fiksApi = FiksApiKonfigurasjon.builder()
    .host("{e.api_host}")            // FiksApiKonfigurasjon{{host, port, scheme}}: the default
    .port({e.api_port})                   // for send, catalogue and dokumentlager
    .scheme("{e.api_scheme}")
    .build();

// Each of the three may instead be set on its own; here they follow fiksApi.
// POST /fiks-io/api/v1/send:
SendMeldingKonfigurasjon sendMelding = SendMeldingKonfigurasjon.builder()
    .host("{e.api_host}").port({e.api_port}).scheme("{e.api_scheme}").build();
// GET /fiks-io/katalog/api/v1/kontoer/{{id}}/offentligNokkel:
KatalogKonfigurasjon katalog = KatalogKonfigurasjon.builder()
    .host("{e.api_host}").port({e.api_port}).scheme("{e.api_scheme}").build();
// GET /dokumentlager/nedlasting/{{id}}:
DokumentLagerKonfigurasjon dokumentLager = DokumentLagerKonfigurasjon.builder()
    .host("{e.api_host}").port({e.api_port}).scheme("{e.api_scheme}").build();

AmqpKonfigurasjon amqp = AmqpKonfigurasjon.builder()
    .host("{e.amqp_host}")            // AmqpKonfigurasjon{{host, port}}: TLS, vhost "/"
    .port({e.amqp_tls_port})
    .mottakBufferStorrelse(10)       // prefetch, as in production
    .build();

IdPortenKonfigurasjon idPorten = IdPortenKonfigurasjon.builder()
    .accessTokenUri("{e.api}/token")  // IdPortenKonfigurasjon.accessTokenUri
    .build();

KontoKonfigurasjon konto = KontoKonfigurasjon.builder()
    .kontoId(new KontoId(UUID.fromString("{e.account_id}")))
    .privatNokkel(/* {e.keys}/account-key.pem: the account's private key */)
    .build();

IntegrasjonKonfigurasjon integrasjon = IntegrasjonKonfigurasjon.builder()
    .integrasjonId(UUID.fromString("{e.integration_id}"))
    .integrasjonPassord("{e.integration_password}")
    .idPortenKonfigurasjon(idPorten)
    .build();

VirksomhetssertifikatKonfigurasjon virksomhetssertifikat =
    VirksomhetssertifikatKonfigurasjon.builder()   // signs the service's replies
        .keyStore(/* {e.keys}/account.p12, type PKCS12 */)
        .keyStorePassword("harness-test").keyAlias("account").keyPassword("harness-test")
        .build();

FiksIOKlientFactory factory = new FiksIOKlientFactory(FiksIOKonfigurasjon.builder()
    .fiksApiKonfigurasjon(fiksApi)
    .sendMeldingKonfigurasjon(sendMelding)
    .katalogKonfigurasjon(katalog)
    .dokumentlagerKonfigurasjon(dokumentLager)
    .amqpKonfigurasjon(amqp)
    .kontoKonfigurasjon(konto)
    .integrasjonKonfigurasjon(integrasjon)
    .virksomhetssertifikatKonfigurasjon(virksomhetssertifikat)
    .build());
// The token supplier bypasses Maskinporten (the harness accepts any token it issued):
factory.setMaskinportenAccessTokenSupplier(() -> /* POST {e.api}/token */ "harness-test-token");
// Leave KontoKonfigurasjon.publicKey unset: the client then uploads no public key at start.
"""


def dotnet(e: Endpoints) -> str:
    return f"""// Local Fiks IO of `harness` for KS's fiks-io-client-dotnet. Configuration only:
// the service's own code does not change. Every value here is for tests.

var api = new ApiConfiguration(scheme: "{e.api_scheme}", host: "{e.api_host}", port: {e.api_port});

var amqp = new AmqpConfiguration(
    host: "{e.amqp_host}",
    port: {e.amqp_tls_port},                       // TLS
    sslOption: new SslOption {{
        Enabled = true,
        ServerName = "{e.amqp_host}",              // the certificate names 127.0.0.1 and localhost
        // trust {e.keys}/ca.pem: install it as a trusted root for the test run, or accept
        // exactly this CA in CertificateValidationCallback
    }},
    applicationName: "harness-local",
    prefetchCount: 10,
    vhost: "{e.vhost}");

var katalog = new KatalogConfiguration(
    path: "/fiks-io/katalog/api/v1",
    scheme: "{e.api_scheme}", host: "{e.api_host}", port: {e.api_port});

var sender = new FiksIOSenderConfiguration(
    path: "/fiks-io/api/v1/send",
    scheme: "{e.api_scheme}", host: "{e.api_host}", port: {e.api_port});

var dokumentlager = new DokumentlagerConfiguration(
    baseUrl: "{e.api}", downloadPath: "/dokumentlager/nedlasting");

var maskinporten = new MaskinportenClientConfiguration(
    audience: "{e.api}", tokenEndpoint: "{e.api}/token", issuer: "{e.integration_id}",
    numberOfSecondsLeftBeforeExpire: 10,
    certificate: /* {e.keys}/account.p12 (password harness-test) */ null);

var integrasjon = new IntegrasjonConfiguration(
    Guid.Parse("{e.integration_id}"), "{e.integration_password}");

var konto = new KontoConfiguration(
    Guid.Parse("{e.account_id}"),
    /* {e.keys}/account-key.pem: the account's private key */ privatNokkel);

var configuration = new FiksIOConfiguration(
    amqpConfiguration: amqp,
    apiConfiguration: api,
    asiceSigningConfiguration: /* {e.keys}/account.p12 */ null,
    integrasjonConfiguration: integrasjon,
    kontoConfiguration: konto,
    katalogConfiguration: katalog,
    fiksIOSenderConfiguration: sender,
    dokumentlagerConfiguration: dokumentlager,
    maskinportenConfiguration: maskinporten);
// Instead of MaskinportenClientConfiguration, an IMaskinportenClient may be injected
// (it must return the token that POST {e.api}/token gives), and an IPublicKeyProvider
// for the portal's key ({e.keys}/portal.pem) instead of the catalogue look-up.
var client = await FiksIOClient.CreateAsync(configuration);
"""


def snippet(language: str, endpoints: Endpoints) -> str:
    if language == "java":
        return java(endpoints)
    if language == "dotnet":
        return dotnet(endpoints)
    raise ValueError(f"unknown language {language!r}; choose from {', '.join(LANGUAGES)}")


FILE_NAMES = {"java": "fiksio-local.java.txt", "dotnet": "fiksio-local.cs.txt"}
