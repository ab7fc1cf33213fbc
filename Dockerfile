# syntax=docker/dockerfile:1.7
#
# The one Malha image: the `malha` binary (migrations embedded) and the
# protobuf descriptor set Envoy transcodes with, on a distroless runtime.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=1.2.3 -t ghcr.io/malha/malha:1.2.3 --push .
#
# amd64 + arm64: the compile stages run natively on the build machine
# (--platform=$BUILDPLATFORM) and cross-compile to $TARGETARCH with Debian's
# cross gcc, so an arm64 image does not compile under emulation. Only the
# one-command descriptor stage runs the target binary; when cross-building it
# needs binfmt/QEMU (docker/setup-qemu-action, or
# `docker run --privileged --rm tonistiigi/binfmt --install arm64`).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

# --- toolchain + cargo-chef, on the build machine's architecture ------------
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG TARGETARCH
ARG BUILDARCH
RUN set -eux; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu; cross=x86-64; libc=amd64 ;; \
      arm64) triple=aarch64-unknown-linux-gnu; cross=aarch64; libc=arm64 ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    echo "$triple" > /rust-target; \
    if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends "gcc-$cross-linux-gnu" "libc6-dev-$libc-cross"; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    rustup target add "$triple"; \
    cargo install cargo-chef --locked --version 0.1.78
# Linker and C compiler per target; natively these are the host's own gcc.
ENV CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc
WORKDIR /src

# --- the dependency recipe (changes only when Cargo manifests do) -----------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- dependencies (cached layer), then the binary ---------------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo chef cook --release --locked --target "$(cat /rust-target)" -p malha --recipe-path recipe.json
COPY . .
ARG VERSION=0.0.0-dev
ENV MALHA_VERSION=${VERSION}
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    set -eux; \
    cargo build --release --locked --target "$(cat /rust-target)" -p malha --bin malha; \
    install -D -m 0755 "target/$(cat /rust-target)/release/malha" /out/malha

# --- the descriptor set, written by the binary itself (target platform) -----
FROM debian:${DEBIAN_RELEASE}-slim AS descriptor
COPY --from=builder /out/malha /usr/local/bin/malha
RUN mkdir -p /out && /usr/local/bin/malha descriptor --out /out/malha.pb

# --- runtime: glibc + libgcc, no shell, non-root ----------------------------
FROM gcr.io/distroless/cc-debian13:nonroot
ARG VERSION=0.0.0-dev
LABEL org.opencontainers.image.title="malha" \
      org.opencontainers.image.description="Malha gRPC services: one binary, many targets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/malha /usr/local/bin/malha
COPY --from=descriptor /out/malha.pb /usr/share/malha/malha.pb
ENV MALHA_GRPC_ADDR=0.0.0.0:50051 \
    MALHA_ADMIN_ADDR=0.0.0.0:9090
USER 65532:65532
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/malha"]
CMD ["serve", "--target", "all"]
