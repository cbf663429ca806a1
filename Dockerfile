FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: on Node 24 the SQLite driver is better-sqlite3 13 (the optional
# dependency better-sqlite3-13), whose Node-API binaries come inside the package, as do
# bufferutil's and utf-8-validate's. The one build left would be better-sqlite3 12's (for
# Node 20 only, never loaded here), which needs a download from GitHub or a compiler.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
COPY --from=build /app/public ./public
RUN mkdir -p /data && chown node:node /data
EXPOSE 3000
USER node
CMD ["node", "dist/src/main.js"]
