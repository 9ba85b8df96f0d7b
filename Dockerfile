# portwake as a container image. The build stage has a compiler: TypeScript → dist/, the native
# data-path addon (g++, make, python3), production dependencies only. The runtime stage ships that
# without the compiler.
#
#   docker build -t portwake .
#   docker run -d --network host -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD/portwake.yaml:/etc/portwake/portwake.yaml:ro" portwake
#
# BUILD_IMAGE (needs node, npm, and for the addon g++, make and python3) and NODE_IMAGE (node) are
# build arguments, so that a build without a registry can bring its own bases. Without a compiler
# the image is built without the addon; portwake then moves every byte in JavaScript and its
# start-up line says so once (dataPath). A build context with a node_modules/ of its own (the
# offline test's) is used as it is instead of `npm ci`.
ARG BUILD_IMAGE=node:20-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /portwake
COPY . .
RUN if [ -d node_modules ]; then echo "portwake image: using the build context's node_modules"; \
    else npm ci --no-audit --no-fund --ignore-scripts; fi \
 && node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && node scripts/build-native.mjs \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && { rmdir node_modules/@* 2>/dev/null || true; } \
 && mkdir -p /out/build/Release \
 && cp -r package.json dist node_modules /out/ \
 && if [ -f build/Release/portwake_native.node ]; then cp build/Release/portwake_native.node /out/build/Release/; fi

FROM ${NODE_IMAGE}
COPY --from=build /out /opt/portwake
ENV NODE_ENV=production
WORKDIR /etc/portwake
ENTRYPOINT ["node", "/opt/portwake/dist/main.js"]
CMD ["run", "-c", "/etc/portwake/portwake.yaml"]
