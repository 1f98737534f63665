# syntax=docker/dockerfile:1.7
# The Portcullis gateway image (issue 12, DESIGN §4 "Production").
#
# build:   the TypeScript compiled with the dev dependencies (npm run build → dist/).
# runtime: production dependencies and dist/src only; a numeric non-root user, so that Kubernetes'
#          runAsNonRoot can verify it; writes only to its volumes (/data: store and generated keys,
#          /certs: the development PKI or a mounted certificate, /tmp: openssl verify's scratch
#          files), so it runs with a read-only root filesystem (`docker run --read-only`, the Helm
#          chart's readOnlyRootFilesystem).
#
# No Docker engine runs where this project is tested, so the image is never built there:
# test/helm/image-contents.test.ts performs the runtime stage's steps (these COPY sources, this
# npm ci, this user, these volumes, this ENTRYPOINT/CMD and HEALTHCHECK) in a temporary directory
# and starts the result. Keep every RUN to the commands that test knows how to perform.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY console ./console
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# The gateway runs the openssl CLI to validate new client-certificate chains (src/ca/openssl-verify.ts).
# jemalloc replaces glibc's malloc for the whole process (OpenSSL's and Node's native memory): after
# thousands of sessions end at once — the outage before a reconnect storm — glibc's fragmented heap
# made every later handshake 35–65 % dearer and kept the RSS high; jemalloc does not (docs/
# benchmarks.md, "The admission queue and the allocator after a mass disconnect"). A bare name, so
# that the loader finds it in the architecture's own library directory.
RUN apt-get update && apt-get install -y --no-install-recommends openssl libjemalloc2 && rm -rf /var/lib/apt/lists/*
ENV LD_PRELOAD=libjemalloc.so.2
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the one install script is the optional pkcs11js binding (masterKey.provider
# pkcs11), which needs a C++ toolchain; an image for an HSM builds it (docs/deploy.md).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
# The web console's built files (served at /console/ by the admin server).
COPY --from=build /src/dist/console ./dist/console
COPY bin ./bin
# Defaults for one container on its own; the Helm chart mounts its own file over /etc/portcullis.
COPY <<EOF /etc/portcullis/portcullis.yaml
# Embedded store and generated keys on the /data volume, a development PKI generated on /certs,
# the signed admin API on every interface of the container (publish its port only where operators
# reach it). Override any key with PORTCULLIS_* variables (README "Configuration").
listeners:
  - {name: mqtts, protocol: mqtt, port: 8883}
  - {name: amqps, protocol: amqp, port: 5671}
admin: {host: 0.0.0.0, port: 9080}
store: {kind: embedded, dataDir: /data}
tls: {devCertsDir: /certs}
EOF
RUN mkdir -p /data /certs && chown 10001:10001 /data /certs && chmod 0700 /data /certs
USER 10001:10001
VOLUME ["/data", "/certs", "/tmp"]
EXPOSE 8883 5671 9080
# The gateway's graceful stop (DESIGN §4 `shutdown`) starts on SIGTERM; give `docker stop` a
# --time longer than shutdown.readinessDelayMs + drainTimeoutMs.
STOPSIGNAL SIGTERM
# /healthz on the admin port (9080, or PORTCULLIS_ADMIN__PORT when that overrides it); no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const port=process.env.PORTCULLIS_ADMIN__PORT||9080;require('http').get({host:'127.0.0.1',port,path:'/healthz',timeout:2000},(r)=>process.exit(r.statusCode===200?0:1)).on('timeout',function(){this.destroy()}).on('error',()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/portcullis.js"]
CMD ["start", "-c", "/etc/portcullis/portcullis.yaml"]
