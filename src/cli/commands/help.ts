/** `portcullis help`: the command summary (DESIGN §3 "CLI"). */
export const HELP_TEXT = `Usage: portcullis <command> [options]

Gateway
  start [-c FILE]                       run the gateway (config: FILE, else defaults + PORTCULLIS_* env);
                                        SIGHUP reopens the audit files and reloads FILE (see README "Reload")
  config check [-c FILE]                validate FILE and the PORTCULLIS_* overrides without starting ("ok", or the key at fault)
  version, --version                    print the version
  dev-pki [DIR]                         write a demo PKI (client CA, device and server certificates), default ./certs
  derive-credentials --instance ID --access-key AK --secret SK [--static --timestamp MS] [--security-token T]
                                        print an AMQP userName/password (offline; dynamic logins use the current time)

Instances
  instance create --id ID --protocol mqtt|amqp [--hostname NAME]... [--backend-kind tcp|embedded]
                  [--backend-host H --backend-port P] [--backend-username U] [--backend-vhost V]
                  [--access-type ANY_TUNNEL|SINGLE_TUNNEL] [--vpc-id VPC] [--authorization off|enforce]
                  [--server-cert FILE --server-key FILE] [-f BODY.json|yaml]
  instance list
  instance show ID
  instance update ID [same options as create, except --id/--protocol]
  instance delete ID [--force]          --force: even while it holds ACTIVE CAs or devices

CA certificates (MQTT instances)
  ca code --instance ID                 issue a registration code (CN of the verification certificate)
  ca register --instance ID --ca FILE --verification FILE [--status ACTIVE|INACTIVE]
  ca list --instance ID
  ca show --instance ID CA_ID
  ca activate|deactivate|delete --instance ID CA_ID

Device certificates
  device list --instance ID [--ca CA_ID] [--status ACTIVE|INACTIVE|REVOKED]
  device show --instance ID DEVICE_ID [--pem]
  device download --instance ID DEVICE_ID [--out FILE]
  device register --instance ID --cert FILE [--status ACTIVE|INACTIVE]
  device activate|deactivate|revoke --instance ID DEVICE_ID

AccessKeys and static AMQP users
  access-key create [--description D] [--account ID]
                                        create one (in account ID, default root); the secret is printed this once only
  access-key list
  access-key show|disable|enable|delete --id AK      (or AK as the argument)
  access-key token --id AK [--ttl SECONDS]   issue a security token (STS login with derive-credentials --security-token)
  static-account create --instance ID --access-key AK --secret SK [--timestamp MS]
                                        CreateAccount, signed here with the secret (which is not sent)
  static-account list --instance ID
  static-account delete --instance ID --access-key AK

Accounts and policies (what an AccessKey may do; keys of the root account may do everything)
  account create ID [--display-name N] [--parent P]   a sub-account of P (default: directly under root)
  account list
  account show|delete ID                refused while it has sub-accounts or AccessKeys
  policy put NAME --file DOC.json       create or replace {statements: [{effect, actions, resources}]} (JSON or YAML)
  policy list
  policy show|delete NAME               delete is refused while the policy is attached
  policy attach|detach NAME PRINCIPAL   account:ID, accessKey:AK, instance:ID, ca:INSTANCE/CA_ID or device:INSTANCE/DEVICE_ID
  policy attachments NAME

Blacklist (refuses new connections and closes matching live ones)
  blacklist add --kind accessKey|account|username|clientId|certFingerprint|ip --value V
                [--instance ID] [--reason R] [--expires ISO | --ttl SECONDS]
                                        global unless --instance; ip takes an address or CIDR range
  blacklist list [--instance ID] [--kind K] [--include-expired]
  blacklist show ID
  blacklist remove ID

Audit
  audit query [--since ISO] [--until ISO] [--type T|PREFIX*] [--instance ID] [--limit N]
                                        recorded events, oldest first (at most 1000; default 100)
  audit tail [--since ISO] [--type T|PREFIX*] [--instance ID] [--limit N] [--count N]
                                        follow new events live, one JSON line each, until Ctrl-C
  audit verify FILE [--partial]         check the hash chains of a JSON-lines audit file (exit 1 when broken)

Admin commands sign their calls. Endpoint and key: PORTCULLIS_ADMIN_URL, PORTCULLIS_ACCESS_KEY_ID,
PORTCULLIS_ACCESS_KEY_SECRET; else the local config (-c FILE, or ./portcullis.yaml) and the root
AccessKey in <dataDir>/root-access-key.json.
`
