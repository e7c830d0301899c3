# The aks-ipvlan image: the node agent (DaemonSet, with its install-cni init container) and the controller.
# Build: docker build -t REGISTRY/aks-ipvlan:VERSION .   (see README, "The node agent")

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-slim
# iptables: both iptables-legacy and iptables-nft, the agent detects which one the node uses.
# iproute2: `ip -json` and `ip -batch` for the host device. containernetworking-plugins: ipvlan,
# host-local and portmap, which install-cni copies to the node's /opt/cni/bin when missing there.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 containernetworking-plugins \
 && mkdir -p /opt/aks-ipvlan/cni-bin \
 && cp /usr/lib/cni/* /opt/aks-ipvlan/cni-bin/ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Root: the agent changes the host's network namespace (iptables, links, /proc/sys) through the
# DaemonSet's privileges; the controller Deployment overrides the user (runAsNonRoot, uid 65532).
USER 0
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["agent", "--config", "/etc/aks-ipvlan/cluster.yaml"]
