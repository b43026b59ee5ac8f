# syntax=docker/dockerfile:1
# burnrate's container image: a Debian build stage, then a slim runtime stage
# holding only the binary and the shared libraries it links.
#   docker build -t burnrate:dev .
#   docker run --rm burnrate:dev --help

FROM debian:bookworm AS build
# The -dev packages of scripts/bootstrap's list (services and test tools left out).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates \
      librdkafka-dev libhiredis-dev prometheus-cpp-dev libsimdjson-dev nlohmann-json3-dev \
      libyaml-cpp-dev libcurl4-openssl-dev libcpp-httplib-dev libcli11-dev libspdlog-dev \
      libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBURNRATE_BUILD_TESTS=OFF -DBURNRATE_BUILD_BENCH=OFF \
 && cmake --build /build --target burnrate \
 && install -D -m 0755 /build/app/burnrate /out/usr/local/bin/burnrate \
 && strip /out/usr/local/bin/burnrate
# The runtime packages are whatever owns the shared libraries the binary links,
# so this list cannot drift from the build.
RUN for lib in $(ldd /out/usr/local/bin/burnrate | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null \
        || dpkg -S "/usr$lib" 2>/dev/null || { echo "no package owns $lib" >&2; exit 1; }; \
    done | cut -d: -f1 | sort -u > /out/runtime-packages \
 && cat /out/runtime-packages

FROM debian:bookworm-slim
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --system --gid 10001 burnrate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin burnrate
COPY --from=build /out/usr/local/bin/burnrate /usr/local/bin/burnrate
USER 10001:10001
# 9464: /metrics /healthz /readyz /v1/decision; 9465: admin (quota overrides, silences).
EXPOSE 9464 9465
ENTRYPOINT ["burnrate"]
CMD ["--help"]
