"""integration/riemann.config calls only what current Riemann (0.3.x) has.

No Riemann runs in CI. Instead Clojure's own reader (Debian's `clojure` package, which
tests/run installs) reads the config, and every symbol it uses is looked up in the names
a Riemann config can use: Riemann's API, written out below, plus Clojure's own core.
A function Riemann removed (`combine`, gone since 0.2.12) or a misspelled one fails here
instead of in the Riemann that loads the config.
"""

import subprocess
import textwrap
from collections import defaultdict
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "integration" / "riemann.config"
CLOJURE_JAR = "/usr/share/java/clojure.jar"

# The public vars of Riemann's namespaces, from Riemann's source (riemann/riemann@24343516,
# 0.3.13-SNAPSHOT; the same names as 0.3.11 and 0.3.12): every defn, defmacro, def,
# defprotocol function and defrecord constructor that is not private.
RIEMANN = {
    "riemann.streams": """
    *exception-stream* ->ApdexState -infinity adjust apdex apdex* append batch bit-bucket by
    by-builder by-fn call-rescue changed changed-state clock-skew coalesce
    coalesce-with-event counter ddt ddt-events ddt-real default dual ewma ewma-timeless
    exception-stream execute-on expired expired? fill-in fill-in-last fill-in-last*
    fixed-event-window fixed-offset-time-window fixed-time-window fold-interval
    fold-interval-metric forward infinity interpolate-constant map->ApdexState match
    mean-over-time moving-event-window moving-time-window not-expired over part-time-fast
    part-time-simple percentiles periodically-until-expired pipe predict-linear project
    project* rate register rollup runs scale sdo sflatten smap smap* smapcat split split*
    split*-match splitp sreduce stable stream sum-over-time tag tagged tagged-all
    tagged-all? tagged-any tagged-any? throttle top under untag where where*
    where-partition-clauses where-rewrite window with
    """,
    "riemann.folds": """
    adjust-occurence count difference difference* extremum fold fold* fold-all maximum mean
    median minimum mode modes non-nil-metrics product product* quotient quotient*
    quotient-sloppy sorted-sample sorted-sample-extract std-dev sum sum*
    """,
    "riemann.config": """
    *config-file* apply! async-queue! clear! config-file-path core delete-from-index depend
    graphite-server include index instrumentation kafka-consumer kwargs-or-map local-repo
    next-core opentsdb-server periodically-expire publish rabbitmq-transport read-strings
    reinject repl-server service! sse-server start! stop! streams subscribe tcp-server
    udp-server update-index validate-config ws-server
    """,
    "riemann.graphite": """
    ->GraphiteTCPClient ->GraphiteUDPClient GraphiteClient close graphite graphite-metric
    graphite-path-basic graphite-path-percentiles graphite-path-tags map->GraphiteTCPClient
    map->GraphiteUDPClient open send-line send-lines
    """,
    "riemann.logging": """
    configure-from-file configure-from-opts encoder get-logger init nice-syntax-error
    set-level suppress
    """,
    "riemann.common": """
    Match approx-equal body count-character-bytes count-string-bytes custom-attributes
    decode-inputstream decode-msg deprecated deprecations-emitted disjoint? encode
    ensure-event-time event event-to-json exception->event expire get-hostname
    hostname-refresh-interval human-uniq iso8601->unix map-matches? match member? middle
    overlap? pkey post-load-event re-matches? subject subset? time-at truncate
    truncate-bytes unix-to-iso8601
    """,
    "riemann.index": """
    Index clear default-ttl delete delete-exactly expire index insert lookup nbhm-index
    query-for-host-and-service search update
    """,
    # What riemann.config's ns form refers from other namespaces (`:refer [...]`).
    "referred": """
    boundary udp-client tcp-client multi-client clickhouse cloudwatch event datadog druid
    mailer graphite hipchat influxdb influxdb2 kafka kairosdb keenio librato-metrics
    logentries logstash mailgun msteams nagios netuitive opentsdb opsgenie pagerduty
    load-plugin load-plugins pushover rabbitmq shinken slack sns-publisher stackdriver
    prometheus elasticsearch default-bulk-formatter elasticsearch-bulk telegram tap io tests
    unix-time linear-time once! every! twilio victorops xymon zabbix add-dependencies file
    """,
    # clojure.tools.logging, referred whole (`:refer :all`): its logging macros.
    "clojure.tools.logging": """
    trace debug info warn error fatal tracef debugf infof warnf errorf fatalf spy spyf log
    logf logp enabled?
    """,
}
# A config evaluates in riemann.config: these names resolve unqualified there...
UNQUALIFIED = ("riemann.config", "riemann.streams", "referred", "clojure.tools.logging")
# ...and these aliases of its ns form qualify them (`folds/mean`).
ALIASES = {
    "folds": "riemann.folds",
    "graphite-client": "riemann.graphite",
    "logging": "riemann.logging",
    "common": "riemann.common",
    "index": "riemann.index",
}
# Java static members a config may call.
JAVA = {"System/getenv", "System/getProperty"}

# Reads a config with Clojure's reader and prints what it uses, one `kind<TAB>symbol` a
# line: `call` (a symbol in call position), `ref` (any other symbol), `def` (a name the
# config defines), `local` (a name a let, fn or loop binds). Then Clojure's own names:
# `core` (clojure.core), `string` (clojure.string) and `special` (special forms).
WALKER = r"""
(def out (java.io.PrintWriter. System/out))
(defn emit [kind sym] (.println out (str kind "\t" sym)))
(declare walk)
(defn walk-all [forms] (doseq [f forms] (walk f)))
(defn bind [b] (doseq [s (tree-seq coll? seq b) :when (symbol? s)] (emit "local" s)))
(defn bindings [bv]
  (doseq [[b v] (partition 2 bv)]
    (if (keyword? b) (bindings v) (do (bind b) (walk v)))))
(defn arity [[params & body]] (bind params) (walk-all body))
(defn fn-body [forms]
  (let [forms (drop-while #(or (string? %) (map? %)) forms)]
    (if (vector? (first forms)) (arity forms) (doseq [a forms] (arity a)))))
(defn walk [form]
  (cond
    (seq? form)
    (let [[op & args] form]
      (if (symbol? op) (emit "call" op) (walk op))
      (case op
        quote nil
        (let let* loop loop* binding when-let if-let when-some if-some with-open doseq for
         dotimes)
        (do (bindings (first args)) (walk-all (rest args)))
        (fn fn*) (fn-body (if (symbol? (first args))
                            (do (emit "local" (first args)) (rest args))
                            args))
        (defn defn- defmacro) (do (emit "def" (first args)) (fn-body (rest args)))
        (def defonce) (do (emit "def" (first args)) (walk-all (rest args)))
        ; where rewrites the symbols of its expression into event fields: only its
        ; streams are walked.
        where (walk-all (rest args))
        (walk-all args)))
    (coll? form) (walk-all (if (map? form) (mapcat identity form) form))
    (symbol? form) (emit "ref" form)))
(binding [*read-eval* false]
  (with-open [r (java.io.PushbackReader. (clojure.java.io/reader (first *command-line-args*)))]
    (loop []
      (let [form (read {:eof ::eof} r)]
        (when-not (= form ::eof) (walk form) (recur))))))
(doseq [[kind ns] [["core" 'clojure.core] ["string" 'clojure.string]]]
  (require ns)
  (doseq [s (keys (ns-publics ns))] (emit kind s)))
(doseq [s (keys clojure.lang.Compiler/specials)] (emit "special" s))
(.flush out)
"""


def walked(config: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """What the config uses and defines, in the order it does, then Clojure's own names:
    (kind, symbol) pairs."""
    walker = tmp_path / "walker.clj"
    walker.write_text(WALKER)
    found = subprocess.run(
        ["java", "-cp", CLOJURE_JAR, "clojure.main", str(walker), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 0, f"Clojure could not read {config}:\n{found.stderr}"
    return [tuple(line.split("\t")) for line in found.stdout.splitlines()]  # type: ignore[misc]


def uses(config: Path, tmp_path: Path) -> dict[str, set[str]]:
    """What the config uses and defines, and Clojure's own names, by kind."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for kind, symbol in walked(config, tmp_path):
        kinds[kind].add(symbol)
    return kinds


def used_before_defined(config: Path, tmp_path: Path) -> list[str]:
    """The config's own names used above their definition: Riemann evaluates a config
    top to bottom, and stops at the first ("Unable to resolve symbol")."""
    pairs = walked(config, tmp_path)
    own = {symbol for kind, symbol in pairs if kind == "def"}
    defined: set[str] = set()
    early = []
    for kind, symbol in pairs:
        if kind == "def":
            defined.add(symbol)
        elif kind in ("call", "ref") and symbol in own and symbol not in defined:
            early.append(symbol)
    return early


def riemanns() -> set[str]:
    """The names Riemann refers into riemann.config, where a config is evaluated."""
    return {name for namespace in UNQUALIFIED for name in RIEMANN[namespace].split()}


def unknown(config: Path, tmp_path: Path) -> list[str]:
    """The symbols of `config` that are no function, macro or var a Riemann config has."""
    kinds = uses(config, tmp_path)
    known = kinds["def"] | kinds["local"] | kinds["core"] | kinds["special"] | JAVA
    known |= riemanns()
    for alias, namespace in ALIASES.items():
        known |= {f"{alias}/{name}" for name in RIEMANN[namespace].split()}
    known |= {f"clojure.string/{name}" for name in kinds["string"]}
    return sorted(
        f"{symbol} ({kind})"
        for kind in ("call", "ref")
        for symbol in kinds[kind]
        if symbol not in known
    )


def test_every_symbol_is_riemanns_or_clojures(tmp_path):
    assert unknown(CONFIG, tmp_path) == []


def test_every_name_the_config_defines_is_defined_before_it_is_used(tmp_path):
    assert used_before_defined(CONFIG, tmp_path) == []
    sample = tmp_path / "riemann.config"
    sample.write_text("(defn a [e] (b e))\n(defn b [e] e)\n")
    assert used_before_defined(sample, tmp_path) == ["b"]


def test_no_definition_takes_a_riemann_name(tmp_path):
    """Riemann refuses to start on `(def window 1)`: "window already refers to:
    #'riemann.streams/window in namespace: riemann.config"."""
    assert sorted(uses(CONFIG, tmp_path)["def"] & riemanns()) == []
    sample = tmp_path / "riemann.config"
    sample.write_text("(def window 1)\n(defn per-window [w] w)\n")
    assert sorted(uses(sample, tmp_path)["def"] & riemanns()) == ["window"]


def test_the_config_uses_the_streams_it_is_documented_with(tmp_path):
    """The walker really sees the config's calls (an empty walk would pass any config)."""
    calls = uses(CONFIG, tmp_path)["call"]
    for name in ("streams", "part-time-simple", "by", "where*", "graphite", "index"):
        assert name in calls


def test_a_removed_or_misspelled_function_fails(tmp_path):
    """`combine` (removed in Riemann 0.2.12) and a typo are caught, wherever they are."""
    config = tmp_path / "riemann.config"
    config.write_text(
        textwrap.dedent(
            """
            (let [index (index)]
              (streams
                (tagged "duration"
                  (fixed-time-window 1
                    (combine folds/mean index)
                    (smap folds/meen (with :host nil index))))
                (by [:service] (rate 1 (fn [e] (prn e)) idx))))
            """
        )
    )
    assert unknown(config, tmp_path) == ["combine (call)", "folds/meen (ref)", "idx (ref)"]
