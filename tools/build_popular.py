#!/usr/bin/env python3
"""Build the popularity lists that relayguard's typosquat check ships with.

    python3 tools/build_popular.py [--corpora DIR]

Reads ``top_pypi.txt`` and ``top_npm.txt`` (one name a line, most popular
first) from the shared corpora folder (default: ``../shared/corpora`` next to
the repository, or ``$RELAYGUARD_CORPORA``) and writes, into
``src/relayguard/screen/data/``:

* ``pypi.txt``   PEP 503-normalised names (lowercase, runs of ``-_.`` -> ``-``),
  duplicates after normalisation dropped, most popular first;
* ``npm.txt``    lowercased names, duplicates dropped, most popular first;
* ``crates.txt`` and ``go.txt`` from the hand-curated lists below (written
  from general knowledge of the Rust and Go ecosystems, roughly most used
  first; there is no download ranking behind them);
* ``README.md``  provenance, date and how to regenerate.

Standard library only; apart from the date in the headers, the output is
deterministic for a given input.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "relayguard" / "screen" / "data"

# Hand-curated: the most used Rust crates (libraries, and binaries people
# `cargo install`), roughly in order of use. Written from knowledge, not
# from a registry query.
CRATES = """
syn bitflags proc-macro2 quote libc cfg-if rand_core serde rand itoa memchr
autocfg once_cell unicode-ident getrandom serde_derive lazy_static regex
regex-syntax log smallvec ryu serde_json base64 hashbrown aho-corasick
rand_chacha indexmap parking_lot parking_lot_core lock_api scopeguard either
version_check byteorder cc bytes time num-traits futures futures-core
futures-util futures-task futures-channel futures-io futures-sink
futures-macro futures-executor pin-project-lite pin-project pin-utils slab
tokio tokio-macros mio socket2 thiserror thiserror-impl anyhow strsim clap
clap_derive clap_builder clap_lex heck textwrap atty termcolor ansi_term
unicode-width unicode-normalization unicode-bidi unicode-segmentation idna
url percent-encoding form_urlencoded tinyvec tinyvec_macros http http-body
httparse httpdate hyper h2 tower tower-service tower-layer tracing
tracing-core tracing-attributes tracing-subscriber tracing-log want try-lock
fnv itertools crossbeam-utils crossbeam-channel crossbeam-epoch
crossbeam-deque crossbeam-queue crossbeam rayon rayon-core num_cpus
hermit-abi memoffset generic-array typenum digest block-buffer crypto-common
sha2 sha1 md-5 cpufeatures subtle hex chrono iana-time-zone num-integer
num-bigint tempfile fastrand rustix linux-raw-sys errno windows-sys
windows-targets winapi winapi-util nom minimal-lexical env_logger humantime
semver toml serde_spanned toml_edit toml_datetime winnow mime encoding_rs
reqwest rustls rustls-pemfile rustls-webpki webpki-roots ring untrusted spin
openssl openssl-sys openssl-probe native-tls hyper-tls hyper-rustls
tokio-rustls tokio-util tokio-native-tls tokio-stream ipnet zeroize adler
miniz_oxide flate2 crc32fast glob walkdir same-file ahash zerocopy
static_assertions arrayvec uuid bstr dirs dirs-sys home which fixedbitset
petgraph pkg-config vcpkg bindgen cexpr clang-sys libloading shlex
rustc-hash rustc_version prettyplease darling darling_core ident_case
derive_more strum strum_macros paste async-trait serde_yaml serde_with
serde_urlencoded bincode prost prost-types tonic axum axum-core matchit
sync_wrapper actix-web actix-rt warp rocket sqlx diesel rusqlite postgres
tokio-postgres redis mongodb lru dashmap arc-swap bumpalo num num-complex
num-rational num-derive half ndarray nalgebra image png libm approx criterion
proptest quickcheck mockall assert_cmd predicates pretty_assertions insta
rstest serial_test wasm-bindgen js-sys web-sys wasm-bindgen-futures
console_error_panic_hook getopts structopt indicatif console dialoguer
colored crossterm ratatui tui termion sha3 blake2 blake3 hmac pbkdf2 argon2
bcrypt aes aes-gcm chacha20poly1305 ed25519-dalek x25519-dalek
curve25519-dalek rsa p256 k256 ecdsa signature pem der spki pkcs8
jsonwebtoken rand_distr object gimli addr2line backtrace rustc-demangle
signal-hook signal-hook-registry nix ctrlc notify tungstenite
tokio-tungstenite async-std smol async-channel event-listener futures-lite
polling async-io concurrent-queue log4rs slog fern simplelog config dotenv
dotenvy envy csv quick-xml xml-rs roxmltree rmp-serde ciborium postcard ron
json simd-json zip tar bzip2 zstd lz4_flex brotli xz2 memmap2
tracing-appender opentelemetry metrics prometheus sysinfo rustyline
regex-automata fancy-regex globset ignore camino filetime fs_extra fs2
bytemuck num_enum bitvec smartstring compact_str lazy-regex cached moka
flume tokio-test wiremock mockito ureq surf isahc curl hyper-util
http-body-util tower-http headers cookie chrono-tz jiff validator schemars
utoipa async-graphql sea-orm deadpool bb8 r2d2 clap_complete anstyle
anstream color-eyre eyre miette snafu failure error-chain quick-error
wasmtime wasmer pyo3 napi cxx libz-sys cmake tikv-jemallocator mimalloc
cargo_metadata ripgrep fd-find bat eza cargo-edit cargo-watch cargo-expand
cargo-audit cargo-deny cargo-nextest cargo-make wasm-pack trunk mdbook
tokei hyperfine just sccache cbindgen sqlx-cli diesel_cli cargo-tarpaulin
cargo-llvm-cov cargo-outdated cargo-binstall starship zoxide du-dust
git-delta nushell watchexec-cli cross cargo-generate cargo-release
pest pest_derive pest_meta pest_generator lalrpop lalrpop-util logos chumsky
combine peg tree-sitter rowan shellexpand bindgen-cli wasm-bindgen-cli
clippy-sarif sarif-fmt cargo-udeps cargo-bloat cargo-update cargo-machete
cargo-sort cargo-msrv cargo-hack cargo-fuzz cargo-criterion
cargo-semver-checks cargo-dist cargo-insta cargo-about cargo-cache
cargo-zigbuild cargo-lambda cargo-leptos tauri tauri-build tauri-cli bevy
egui eframe winit wgpu glam serde-wasm-bindgen gloo yew leptos dioxus
async-stream futures-timer tracing-futures tracing-opentelemetry
opentelemetry_sdk opentelemetry-otlp reqwest-middleware governor axum-extra
axum-macros askama tera handlebars minijinja maud pulldown-cmark comrak
syntect similar unicode-xid phf phf_codegen slotmap rand_pcg rand_xoshiro
ordered-float rust_decimal bigdecimal num-format humansize bytesize cron
lettre rdkafka lapin async-nats aws-config aws-sdk-s3 aws-sdk-dynamodb
rusoto_core rusoto_s3 sled rocksdb redb heed sqlparser datafusion arrow
parquet polars tantivy rustfft statrs linfa candle-core tch ort tokenizers
regex-lite data-encoding bs58 hex-literal md5 crc xxhash-rust twox-hash
seahash siphasher fxhash getset derive_builder derive-new typed-builder bon
enum-iterator enum_dispatch displaydoc tracing-error human-panic
clap-verbosity-flag clap_mangen argh pico-args lexopt inquire comfy-table
prettytable-rs tabled owo-colors yansi nu-ansi-term is-terminal
supports-color terminal_size directories dirs-next tempdir assert_fs
assert_matches test-case test-log ctor divan pprof dhat jemallocator windows
winreg core-foundation objc cocoa security-framework openssl-src rcgen
x509-parser webpki rustls-native-certs trust-dns-resolver hickory-resolver
quinn zbus dbus serialport embedded-hal cortex-m cortex-m-rt defmt probe-rs
embassy-executor heapless bitfield modular-bitfield binrw deku scroll goblin
capstone iced-x86 wasmparser wasm-encoder walrus cranelift-codegen inkwell
llvm-sys salsa proc-macro-error proc-macro-crate synstructure trybuild
rustversion cfg_aliases cargo_toml json5 rust-ini figment serde_bytes
serde_repr serde-xml-rs serde_cbor toml_write config-rs
""".split()

# Hand-curated: the most used Go module paths (libraries and `go install`
# tools), roughly in order of use. Written from knowledge, not from a query.
GO = """
github.com/stretchr/testify golang.org/x/net golang.org/x/sys
golang.org/x/text golang.org/x/crypto golang.org/x/sync golang.org/x/tools
golang.org/x/mod golang.org/x/oauth2 golang.org/x/time golang.org/x/term
golang.org/x/exp golang.org/x/image golang.org/x/xerrors golang.org/x/lint
golang.org/x/vuln google.golang.org/protobuf google.golang.org/grpc
google.golang.org/genproto google.golang.org/api github.com/golang/protobuf
github.com/google/uuid github.com/google/go-cmp github.com/pkg/errors
github.com/davecgh/go-spew github.com/pmezard/go-difflib gopkg.in/yaml.v3
gopkg.in/yaml.v2 github.com/spf13/cobra github.com/spf13/pflag
github.com/spf13/viper github.com/spf13/afero github.com/spf13/cast
github.com/spf13/cobra-cli github.com/sirupsen/logrus go.uber.org/zap
go.uber.org/multierr go.uber.org/atomic go.uber.org/goleak go.uber.org/mock
go.uber.org/fx go.uber.org/dig github.com/golang/mock github.com/gin-gonic/gin
github.com/labstack/echo/v4 github.com/gorilla/mux github.com/gorilla/websocket
github.com/gorilla/handlers github.com/gorilla/sessions github.com/gorilla/schema
github.com/go-chi/chi/v5 github.com/gofiber/fiber/v2 github.com/valyala/fasthttp
github.com/julienschmidt/httprouter github.com/urfave/cli/v2
github.com/prometheus/client_golang github.com/prometheus/client_model
github.com/prometheus/common github.com/prometheus/procfs
github.com/cespare/xxhash/v2 github.com/beorn7/perks github.com/json-iterator/go
github.com/modern-go/reflect2 github.com/modern-go/concurrent
github.com/mattn/go-isatty github.com/mattn/go-colorable github.com/mattn/go-sqlite3
github.com/mattn/go-runewidth github.com/fatih/color github.com/go-sql-driver/mysql
github.com/lib/pq github.com/jackc/pgx/v5 gorm.io/gorm gorm.io/driver/postgres
gorm.io/driver/mysql gorm.io/driver/sqlite github.com/jmoiron/sqlx
github.com/redis/go-redis/v9 github.com/go-redis/redis/v8 github.com/gomodule/redigo
go.mongodb.org/mongo-driver github.com/aws/aws-sdk-go github.com/aws/aws-sdk-go-v2
github.com/aws/aws-lambda-go cloud.google.com/go cloud.google.com/go/storage
github.com/Azure/azure-sdk-for-go github.com/golang-jwt/jwt/v5
github.com/dgrijalva/jwt-go github.com/rs/zerolog github.com/rs/cors github.com/rs/xid
github.com/BurntSushi/toml github.com/pelletier/go-toml/v2
github.com/mitchellh/mapstructure github.com/mitchellh/go-homedir
github.com/hashicorp/go-multierror github.com/hashicorp/errwrap github.com/hashicorp/hcl
github.com/hashicorp/go-version github.com/hashicorp/go-retryablehttp
github.com/hashicorp/go-cleanhttp github.com/hashicorp/golang-lru
github.com/hashicorp/go-hclog github.com/hashicorp/go-plugin
github.com/hashicorp/terraform-plugin-sdk/v2 github.com/hashicorp/vault/api
github.com/hashicorp/consul/api github.com/hashicorp/raft
github.com/fsnotify/fsnotify github.com/magiconair/properties github.com/subosito/gotenv
github.com/joho/godotenv github.com/kelseyhightower/envconfig github.com/caarlos0/env/v11
github.com/go-playground/validator/v10 github.com/go-playground/locales
github.com/go-playground/universal-translator github.com/leodido/go-urn
github.com/ugorji/go github.com/goccy/go-json github.com/bytedance/sonic
github.com/tidwall/gjson github.com/tidwall/sjson github.com/buger/jsonparser
github.com/mailru/easyjson github.com/google/go-github github.com/google/wire
github.com/google/gofuzz github.com/google/gopacket github.com/google/pprof
github.com/google/btree github.com/google/shlex github.com/google/go-querystring
github.com/google/cel-go github.com/gogo/protobuf
github.com/grpc-ecosystem/grpc-gateway/v2 github.com/grpc-ecosystem/go-grpc-middleware
github.com/opentracing/opentracing-go go.opentelemetry.io/otel
go.opentelemetry.io/otel/sdk go.opentelemetry.io/otel/trace go.opentelemetry.io/contrib
github.com/go-logr/logr github.com/go-logr/stdr github.com/go-kit/kit github.com/go-kit/log
k8s.io/api k8s.io/apimachinery k8s.io/client-go k8s.io/klog/v2 k8s.io/utils
k8s.io/kube-openapi sigs.k8s.io/controller-runtime sigs.k8s.io/yaml
sigs.k8s.io/structured-merge-diff/v4 github.com/onsi/ginkgo/v2 github.com/onsi/gomega
github.com/stretchr/objx github.com/kr/pretty github.com/kr/text
github.com/rogpeppe/go-internal gopkg.in/check.v1 gotest.tools/v3
github.com/DATA-DOG/go-sqlmock github.com/jarcoal/httpmock github.com/docker/docker
github.com/docker/go-connections github.com/docker/go-units github.com/containerd/containerd
github.com/opencontainers/go-digest github.com/opencontainers/image-spec
github.com/opencontainers/runc github.com/golang/glog github.com/golang/snappy
github.com/golang/groupcache github.com/klauspost/compress github.com/pierrec/lz4/v4
github.com/andybalholm/brotli github.com/ulikunitz/xz github.com/shopspring/decimal
github.com/robfig/cron/v3 github.com/go-co-op/gocron go.etcd.io/etcd/client/v3
go.etcd.io/bbolt github.com/boltdb/bolt github.com/dgraph-io/badger/v4
github.com/dgraph-io/ristretto github.com/syndtr/goleveldb github.com/cockroachdb/pebble
github.com/nats-io/nats.go github.com/segmentio/kafka-go github.com/IBM/sarama
github.com/Shopify/sarama github.com/confluentinc/confluent-kafka-go
github.com/rabbitmq/amqp091-go github.com/streadway/amqp github.com/eclipse/paho.mqtt.golang
github.com/olekukonko/tablewriter github.com/charmbracelet/bubbletea
github.com/charmbracelet/lipgloss github.com/charmbracelet/bubbles
github.com/charmbracelet/glamour github.com/manifoldco/promptui
github.com/AlecAivazis/survey/v2 github.com/briandowns/spinner
github.com/schollz/progressbar/v3 github.com/gdamore/tcell/v2 github.com/rivo/tview
github.com/alecthomas/kingpin/v2 github.com/alecthomas/kong github.com/jessevdk/go-flags
github.com/Masterminds/semver/v3 github.com/Masterminds/sprig/v3 github.com/Masterminds/squirrel
github.com/blang/semver/v4 github.com/cenkalti/backoff/v4 github.com/avast/retry-go
github.com/sony/gobreaker honnef.co/go/tools github.com/golangci/golangci-lint
github.com/go-delve/delve github.com/air-verse/air mvdan.cc/gofumpt mvdan.cc/sh/v3
github.com/swaggo/swag github.com/swaggo/gin-swagger github.com/go-openapi/spec
github.com/go-openapi/swag github.com/getkin/kin-openapi
github.com/oapi-codegen/oapi-codegen/v2 github.com/99designs/gqlgen
github.com/graphql-go/graphql github.com/vektah/gqlparser/v2
github.com/ethereum/go-ethereum github.com/btcsuite/btcd github.com/miekg/dns
github.com/vishvananda/netlink github.com/coreos/go-systemd/v22 github.com/godbus/dbus/v5
github.com/creack/pty github.com/kballard/go-shellquote github.com/gobwas/glob
github.com/bmatcuk/doublestar/v4 github.com/dustin/go-humanize github.com/pkg/sftp
github.com/sergi/go-diff github.com/go-git/go-git/v5 github.com/xanzy/go-gitlab
github.com/gofrs/uuid github.com/satori/go.uuid github.com/oklog/ulid/v2
github.com/segmentio/ksuid github.com/PuerkitoBio/goquery github.com/gocolly/colly/v2
github.com/chromedp/chromedp github.com/go-resty/resty/v2 github.com/patrickmn/go-cache
github.com/allegro/bigcache/v3 github.com/samber/lo github.com/emirpasic/gods
github.com/deckarep/golang-set/v2 github.com/bits-and-blooms/bitset
github.com/RoaringBitmap/roaring github.com/libp2p/go-libp2p github.com/quic-go/quic-go
github.com/pion/webrtc/v3 github.com/securego/gosec/v2 github.com/goreleaser/goreleaser
github.com/magefile/mage github.com/go-task/task/v3 github.com/vektra/mockery/v2
github.com/jinzhu/copier github.com/jinzhu/now github.com/jinzhu/inflection
github.com/iancoleman/strcase github.com/gosimple/slug github.com/microcosm-cc/bluemonday
github.com/yuin/goldmark github.com/russross/blackfriday/v2 github.com/alecthomas/chroma
github.com/flosch/pongo2 github.com/valyala/fasttemplate github.com/a-h/templ
github.com/expr-lang/expr github.com/dop251/goja github.com/yuin/gopher-lua
github.com/tetratelabs/wazero modernc.org/sqlite github.com/ClickHouse/clickhouse-go/v2
github.com/gocql/gocql github.com/elastic/go-elasticsearch/v8 github.com/minio/minio-go/v7
github.com/stripe/stripe-go github.com/sashabaranov/go-openai github.com/openai/openai-go
github.com/anthropics/anthropic-sdk-go github.com/tmc/langchaingo github.com/slack-go/slack
github.com/bwmarrin/discordgo github.com/testcontainers/testcontainers-go
github.com/ory/dockertest/v3 github.com/golang-migrate/migrate/v4 github.com/pressly/goose/v3
github.com/uptrace/bun github.com/volatiletech/sqlboiler/v4 entgo.io/ent
github.com/sqlc-dev/sqlc github.com/pulumi/pulumi/sdk/v3 github.com/gruntwork-io/terratest
golang.org/x/tools/gopls golang.org/x/tools/cmd/goimports golang.org/x/tools/cmd/stringer
golang.org/x/tools/cmd/godoc golang.org/x/tools/cmd/gorename golang.org/x/tools/cmd/deadcode
golang.org/x/vuln/cmd/govulncheck golang.org/x/lint/golint
google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
github.com/golang/protobuf/protoc-gen-go github.com/go-delve/delve/cmd/dlv
github.com/golangci/golangci-lint/cmd/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint
honnef.co/go/tools/cmd/staticcheck github.com/swaggo/swag/cmd/swag github.com/sqlc-dev/sqlc/cmd/sqlc
github.com/kyleconroy/sqlc/cmd/sqlc github.com/pressly/goose/v3/cmd/goose
github.com/golang-migrate/migrate/v4/cmd/migrate github.com/golang/mock/mockgen go.uber.org/mock/mockgen
github.com/vektra/mockery/v2 github.com/matryer/moq github.com/google/wire/cmd/wire
github.com/a-h/templ/cmd/templ github.com/bufbuild/buf/cmd/buf
github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway
github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2
github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen github.com/deepmap/oapi-codegen/cmd/oapi-codegen
github.com/go-swagger/go-swagger/cmd/swagger entgo.io/ent/cmd/ent entgo.io/ent
github.com/securego/gosec/v2/cmd/gosec github.com/mgechev/revive github.com/kisielk/errcheck
github.com/segmentio/golines github.com/daixiang0/gci github.com/fatih/gomodifytags
github.com/josharian/impl github.com/cweill/gotests/gotests github.com/go-task/task/v3/cmd/task
github.com/magefile/mage github.com/goreleaser/goreleaser github.com/cosmtrek/air
github.com/jstemmer/go-junit-report/v2 github.com/axw/gocov/gocov github.com/boumenot/gocover-cobertura
gotest.tools/gotestsum github.com/rakyll/hey github.com/tsenart/vegeta/v12
github.com/mikefarah/yq/v4 github.com/jesseduffield/lazygit github.com/junegunn/fzf
github.com/cli/cli/v2 github.com/caddyserver/caddy/v2 github.com/caddyserver/xcaddy/cmd/xcaddy
github.com/google/ko sigs.k8s.io/kind sigs.k8s.io/controller-tools/cmd/controller-gen
sigs.k8s.io/kustomize/kustomize/v5 github.com/onsi/ginkgo/v2/ginkgo github.com/99designs/gqlgen
github.com/dmarkham/enumer github.com/abice/go-enum github.com/incu6us/goimports-reviser/v3
github.com/go-critic/go-critic/cmd/gocritic github.com/client9/misspell/cmd/misspell
github.com/gordonklaus/ineffassign github.com/mdempsky/unconvert github.com/google/addlicense
github.com/bazelbuild/bazelisk github.com/bazelbuild/buildtools/buildifier github.com/nektos/act
github.com/rhysd/actionlint/cmd/actionlint github.com/charmbracelet/gum github.com/charmbracelet/glow
github.com/hashicorp/terraform github.com/hashicorp/hcl/v2 github.com/hashicorp/go-getter
github.com/google/go-containerregistry
github.com/spf13/cobra/cobra github.com/urfave/cli/v3 github.com/valyala/fastjson
github.com/gorilla/csrf github.com/unrolled/secure github.com/go-chi/cors github.com/go-chi/render
github.com/go-chi/jwtauth/v5 github.com/lestrrat-go/jwx/v2 github.com/coreos/go-oidc/v3
github.com/markbates/goth github.com/casbin/casbin/v2 github.com/gin-contrib/cors
github.com/gin-contrib/sessions github.com/gin-contrib/zap github.com/labstack/gommon
github.com/jackc/pgconn github.com/jackc/pgtype github.com/jackc/puddle/v2 github.com/jackc/pgx/v4
github.com/uptrace/bun github.com/volatiletech/sqlboiler/v4 github.com/Masterminds/goutils
""".split()


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_names(path: Path, norm) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = norm(line.strip())
        if name and not name.startswith("#") and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return [n for n in names if not (n.lower() in seen or seen.add(n.lower()))]


def write(path: Path, header: list[str], names: list[str]) -> None:
    text = "".join(f"# {h}\n" for h in header) + "".join(f"{n}\n" for n in names)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}: {len(names)} names, {len(text.encode()):,} bytes")


GEMS = """
rake bundler rails rack rspec rspec-core rspec-expectations rspec-mocks rspec-support rspec-rails
activesupport activerecord actionpack actionview activemodel actionmailer activejob actioncable
railties activestorage actiontext actionmailbox nokogiri json i18n tzinfo concurrent-ruby minitest
thor mime-types mime-types-data rack-test builder erubi mini_portile2 mini_mime method_source
zeitwerk sprockets sprockets-rails puma pg mysql2 sqlite3 redis sidekiq devise warden bcrypt
faraday faraday-net_http multi_json httparty rest-client addressable public_suffix diff-lcs
rubocop rubocop-ast rubocop-rails rubocop-rspec rubocop-performance parser ast unicode-display_width
regexp_parser rainbow ruby-progressbar parallel pry pry-byebug byebug coderay debug irb reline
simplecov simplecov-html docile webmock vcr factory_bot factory_bot_rails faker capybara
selenium-webdriver database_cleaner shoulda-matchers timecop climate_control dotenv dotenv-rails
jbuilder bootsnap listen rb-fsevent rb-inotify ffi msgpack aws-sdk-core aws-sdk-s3 aws-sigv4
aws-partitions aws-eventstream jmespath google-protobuf grpc googleauth jwt oauth2 omniauth
omniauth-oauth2 kaminari will_paginate pundit cancancan paper_trail friendly_id carrierwave
image_processing mini_magick ruby-vips shrine sass sassc sass-rails tailwindcss-rails importmap-rails
turbo-rails stimulus-rails webpacker jsbundling-rails cssbundling-rails propshaft haml slim
redcarpet kramdown rouge jekyll liquid mustache tilt sinatra rack-protection mustermann
unicorn thin passenger foreman whenever rufus-scheduler resque delayed_job good_job solid_queue
connection_pool excon net-http net-smtp net-imap net-pop net-ssh net-scp net-sftp sshkit
capistrano fastlane cocoapods xcodeproj colorize colored2 tty-prompt highline terminal-table
awesome_print hashie dry-types dry-struct dry-validation sorbet sorbet-runtime rbs steep
brakeman bundler-audit rails_best_practices reek flay flog yard rdoc annotate letter_opener
better_errors binding_of_caller web-console spring bullet rack-mini-profiler ransack pagy
graphql graphql-batch elasticsearch searchkick chewy mongoid mongo bson sequel rom
solargraph octokit mechanize rack-cors rack-attack sentry-ruby sentry-rails lograge
rails-controller-testing rspec-its rubocop-minitest rubocop-factory_bot rubocop-capybara
standard erb_lint haml_lint overcommit danger guard guard-rspec rerun pry-rails pry-doc
amazing_print stackprof memory_profiler derailed_benchmarks benchmark-ips ruby-prof
rack-timeout newrelic_rpm skylight scout_apm honeybadger bugsnag rollbar airbrake stripe
twilio-ruby sendgrid-ruby postmark-rails aws-sdk-ses aws-sdk-sqs aws-sdk-dynamodb
aws-sdk-lambda aws-sdk google-cloud-storage fog-aws mini_racer execjs uglifier terser
coffee-rails jquery-rails bootstrap font-awesome-rails simple_form cocoon devise_invitable
devise-jwt doorkeeper rodauth rodauth-rails sorcery clearance authlogic rolify acts_as_tenant
apartment audited discard paranoia acts_as_list ancestry closure_tree awesome_nested_set
money-rails money countries i18n-tasks rails-i18n http http-cookie httpclient typhoeus
faraday-retry faraday-multipart savon ox oj yajl-ruby activerecord-import strong_migrations
pghero scenic pg_search groupdate chartkick blazer geocoder rgeo redis-namespace redis-rails
hiredis sidekiq-cron sidekiq-scheduler clockwork sucker_punch que shoryuken karafka bunny
sneakers grape grape-entity roda hanami dry-monads dry-schema dry-configurable
dry-container dry-auto_inject rom-sql view_component phlex-rails kredis solid_cache
solid_cable mission_control-jobs rswag rswag-specs committee apipie-rails
jsonapi-serializer active_model_serializers blueprinter alba rabl roo caxlsx prawn
wicked_pdf pdfkit combine_pdf hexapdf ruby-openai rexml rss net-ldap ruby-saml
omniauth-google-oauth2 omniauth-github omniauth-rails_csrf_protection rotp rqrcode
bcrypt_pbkdf ed25519 sshkey openssl rbnacl lockbox blind_index attr_encrypted chronic
hashids acts-as-taggable-on pg_query parallel_tests knapsack rspec_junit_formatter
minitest-reporters mocha shoulda shoulda-context fakefs cucumber cucumber-rails site_prism
cuprite ferrum webdrivers watir jekyll-feed jekyll-seo-tag jekyll-sitemap github-pages
minima middleman nanoc bridgetown sass-embedded asciidoctor commonmarker
kramdown-parser-gfm tty-spinner tty-table tty-command pastel slop dry-cli gli commander
rake-compiler rb_sys bigdecimal racc strscan psych date logger ostruct
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("RELAYGUARD_CORPORA") or str(ROOT.parent / "shared" / "corpora")
    ap.add_argument("--corpora", default=default, help="folder holding top_pypi.txt and top_npm.txt")
    args = ap.parse_args(argv)
    src = Path(args.corpora)
    for f in ("top_pypi.txt", "top_npm.txt"):
        if not (src / f).is_file():
            print(f"missing {src / f}", file=sys.stderr)
            return 1
    OUT.mkdir(parents=True, exist_ok=True)
    today = _dt.date.today().isoformat()

    pypi = read_names(src / "top_pypi.txt", pep503)
    npm = read_names(src / "top_npm.txt", str.lower)
    crates, go, gems = dedupe(CRATES), dedupe(GO), dedupe(GEMS.split())
    gen = f"generated {today} by tools/build_popular.py; see README.md"
    write(OUT / "pypi.txt", ["PyPI names, most downloaded first, PEP 503-normalised", gen], pypi)
    write(OUT / "npm.txt", ["npm names, most downloaded a month first, lowercased", gen], npm)
    write(OUT / "crates.txt", ["Rust crates, hand-curated from general knowledge (no download ranking);",
                               "roughly most used first. Edit CRATES in tools/build_popular.py", gen], crates)
    write(OUT / "go.txt", ["Go module paths, hand-curated from general knowledge (no download ranking);",
                           "roughly most used first. Edit GO in tools/build_popular.py", gen], go)
    write(OUT / "gem.txt", ["RubyGems names, hand-curated from general knowledge (no download ranking);",
                            "roughly most used first. Edit GEMS in tools/build_popular.py", gen], gems)
    readme = f"""# Bundled popularity lists (typosquat check)

Used by `relayguard.screen.typosquat`: an install of a name that is not in
these lists but is close to one that is gets flagged. Plain text, one name a
line, most popular first; lines starting with `#` are comments.

| file | names | source |
| --- | --- | --- |
| pypi.txt | {len(pypi):,} | `top_pypi.txt` of the project's shared corpora: PyPI packages ranked among the 15,000 most downloaded, by rank; names PEP 503-normalised (lowercase, runs of `-_.` become `-`), duplicates dropped |
| npm.txt | {len(npm):,} | `top_npm.txt` of the shared corpora: the 15,000 npm packages with the most downloads a month; names lowercased, duplicates dropped |
| crates.txt | {len(crates):,} | hand-curated in `tools/build_popular.py` from general knowledge of the Rust ecosystem (most depended-on library crates and commonly `cargo install`ed binaries); no download ranking behind the order |
| gem.txt | {len(gems):,} | hand-curated in `tools/build_popular.py` from general knowledge of the Ruby ecosystem (most used gems); no download ranking behind the order |
| go.txt | {len(go):,} | hand-curated in `tools/build_popular.py` from general knowledge of the Go ecosystem (most imported modules and common `go install` tools); no download ranking behind the order |

The two corpora lists were made on one day from registry package lists (see
the corpora's `README.md` and `SOURCES.md`), not queried at run time: nothing
is fetched when relayguard runs.

Generated: {today}.

## Regenerate

    python3 tools/build_popular.py                 # reads ../shared/corpora
    python3 tools/build_popular.py --corpora DIR   # or $RELAYGUARD_CORPORA

To change the crates, gem or Go lists, edit `CRATES` / `GEMS` / `GO` in the script and
rerun it.
"""
    (OUT / "README.md").write_text(readme, encoding="utf-8")
    print(f"wrote {(OUT / 'README.md').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
