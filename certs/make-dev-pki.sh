#!/usr/bin/env bash
# A development PKI for Portcullis, made with the openssl command-line tool only (certs/README.md).
#
#   certs/make-dev-pki.sh ca                    device-ca.pem/.key: the CA you register on an MQTT instance
#   certs/make-dev-pki.sh verification CODE     verification.pem/.key: CN = the registration code, signed by that CA
#   certs/make-dev-pki.sh device NAME           device-NAME.pem/.key: a device certificate (CN = NAME) under that CA
#   certs/make-dev-pki.sh server HOSTNAME...    server-HOSTNAME.pem/.key: a TLS server certificate for an instance,
#                                               issued by tls-ca.pem (made on first use), which clients trust
#
# Files go to $PKI_DIR, default the directory of this script. Keys are EC P-256 (the gateway's
# client-certificate profile refuses RSA below 2048 bits, P-192, DSA and SHA-1), written mode 0600.
# `ca` keeps an existing device-ca.pem (it may already be registered); delete it to start over.
set -euo pipefail

dir=${PKI_DIR:-$(cd "$(dirname "$0")" && pwd)}
days=${DAYS:-825}
umask 077
mkdir -p "$dir"

usage() {
  sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# A self-signed CA certificate: $1 = file stem, $2 = common name.
make_ca() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$days" \
    -subj "/O=Portcullis dev/CN=$2" -keyout "$dir/$1.key" -out "$dir/$1.pem" \
    -addext 'basicConstraints=critical,CA:TRUE' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' \
    -addext 'subjectKeyIdentifier=hash' 2>/dev/null
  chmod 644 "$dir/$1.pem"
}

# A certificate signed by a CA: $1 = issuer stem, $2 = file stem, $3 = subject, $4 = extensions.
make_leaf() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$3" \
    -keyout "$dir/$2.key" -out "$dir/$2.csr" 2>/dev/null
  openssl x509 -req -sha256 -days "$4" -in "$dir/$2.csr" -CA "$dir/$1.pem" -CAkey "$dir/$1.key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile <(printf '%s\n' "$5") -out "$dir/$2.pem" 2>/dev/null
  rm -f "$dir/$2.csr"
  chmod 644 "$dir/$2.pem"
}

need_device_ca() {
  [[ -f $dir/device-ca.pem && -f $dir/device-ca.key ]] || { echo "no $dir/device-ca.pem: run '$0 ca' first" >&2; exit 1; }
}

case ${1:-} in
  ca)
    if [[ -f $dir/device-ca.pem ]]; then
      echo "kept $dir/device-ca.pem (it may be registered already; delete it and device-ca.key to make a new one)"
    else
      make_ca device-ca 'Portcullis dev device CA'
      echo "wrote $dir/device-ca.pem and $dir/device-ca.key"
    fi
    ;;
  verification)
    [[ $# -eq 2 && -n $2 ]] || usage
    need_device_ca
    # Proof that whoever registers the CA holds its key: the code, signed by it, valid one day.
    make_leaf device-ca verification "/CN=$2" 1 \
      $'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nauthorityKeyIdentifier=keyid'
    echo "wrote $dir/verification.pem (CN=$2, signed by device-ca.pem)"
    ;;
  device)
    [[ $# -eq 2 && $2 =~ ^[A-Za-z0-9._-]+$ ]] || { echo "device NAME: letters, digits, . _ - only" >&2; usage; }
    need_device_ca
    make_leaf device-ca "device-$2" "/O=Portcullis dev/CN=$2" "$days" \
      $'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid'
    echo "wrote $dir/device-$2.pem and $dir/device-$2.key (CN=$2, under device-ca.pem)"
    ;;
  server)
    [[ $# -ge 2 ]] || usage
    shift
    for name in "$@"; do [[ $name =~ ^[A-Za-z0-9.*-]+$ ]] || { echo "server: '$name' is not a DNS name" >&2; exit 2; }; done
    [[ -f $dir/tls-ca.pem && -f $dir/tls-ca.key ]] || { make_ca tls-ca 'Portcullis dev TLS CA'; echo "wrote $dir/tls-ca.pem (trust it in clients)"; }
    sans=$(printf 'DNS:%s,' "$@")
    make_leaf tls-ca "server-$1" "/O=Portcullis dev/CN=$1" "$days" \
      "basicConstraints=critical,CA:FALSE"$'\n'"keyUsage=critical,digitalSignature"$'\n'"extendedKeyUsage=serverAuth"$'\n'"subjectAltName=${sans%,}"$'\n'"authorityKeyIdentifier=keyid"
    echo "wrote $dir/server-$1.pem and $dir/server-$1.key (${sans%,}, issued by tls-ca.pem)"
    ;;
  *) usage ;;
esac
