//! Template behaviour, checked against what Go's text/template and Prometheus print.

use super::*;

struct Fixed;

impl TemplateQuery for Fixed {
    fn query(&self, q: &str) -> Result<Vec<(Vec<(String, String)>, f64)>, String> {
        match q {
            "up" => Ok(vec![
                (vec![("instance".into(), "b:9100".into())], 0.0),
                (vec![("instance".into(), "a:9100".into())], 1.0),
            ]),
            "none" => Ok(vec![]),
            other => Err(format!("bad query {other}")),
        }
    }
}

fn run(src: &str, value: f64) -> Result<String, String> {
    let t = Template::parse("__alert_T", src)?;
    let data = TemplateData {
        labels: vec![("instance", "host:9100"), ("job", "node")],
        external_labels: vec![("cluster", "eu")],
        external_url: "http://prom:9090",
        value,
    };
    t.expand(&data, &Fixed)
}

#[test]
fn variables_and_fields() {
    assert_eq!(
        run("{{ $labels.instance }} of {{ .Labels.job }} in {{ $externalLabels.cluster }} at {{ $externalURL }}: {{ $value }}", 0.5).unwrap(),
        "host:9100 of node in eu at http://prom:9090: 0.5"
    );
    assert_eq!(run("[{{ $labels.missing }}]", 1.0).unwrap(), "[]");
    assert_eq!(run("{{ $value }}", 1e6).unwrap(), "1e+06");
    assert_eq!(run("{{ .Value }}", 42.0).unwrap(), "42");
}

#[test]
fn humanize_family() {
    assert_eq!(run("{{ $value | humanize }}", 1234567.0).unwrap(), "1.235M");
    assert_eq!(run("{{ humanize $value }}", 0.0012).unwrap(), "1.2m");
    assert_eq!(run("{{ humanize $value }}", 0.0).unwrap(), "0");
    assert_eq!(run("{{ $value | humanize1024 }}", 2048.0).unwrap(), "2ki");
    assert_eq!(
        run("{{ $value | humanizePercentage }}", 0.1234).unwrap(),
        "12.34%"
    );
    assert_eq!(
        run("{{ $value | humanizeDuration }}", 90061.0).unwrap(),
        "1d 1h 1m 1s"
    );
    assert_eq!(run("{{ $value | humanizeDuration }}", 3.5).unwrap(), "3.5s");
    assert_eq!(
        run("{{ $value | humanizeDuration }}", 0.0025).unwrap(),
        "2.5ms"
    );
    assert_eq!(
        run("{{ $value | humanizeTimestamp }}", 1_700_000_000.5).unwrap(),
        "2023-11-14 22:13:20.5 +0000 UTC"
    );
    assert_eq!(run("{{ \"1024\" | humanize1024 }}", 0.0).unwrap(), "1ki");
}

#[test]
fn printf_and_control_flow() {
    assert_eq!(
        run("{{ printf \"%.1f%%\" $value }}", 93.27).unwrap(),
        "93.3%"
    );
    assert_eq!(
        run(
            "{{ if gt $value 90.0 }}high{{ else if gt $value 50.0 }}mid{{ else }}low{{ end }}",
            60.0
        )
        .unwrap(),
        "mid"
    );
    assert_eq!(
        run(
            "{{ if and (gt $value 1.0) (eq $labels.job \"node\") }}y{{ end }}",
            2.0
        )
        .unwrap(),
        "y"
    );
    assert_eq!(
        run("{{- /* comment */ -}}  x  {{- $labels.job -}}  ", 0.0).unwrap(),
        "xnode"
    );
    assert_eq!(
        run("{{ $x := 3 }}{{ $x }}{{ $x = 4 }}{{ $x }}", 0.0).unwrap(),
        "34"
    );
    assert_eq!(run("{{ toUpper $labels.job }} {{ title \"hello world\" }} {{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", 0.0).unwrap(), "NODE Hello World host");
    assert_eq!(
        run("{{ $labels.instance | stripPort }}", 0.0).unwrap(),
        "host"
    );
    assert_eq!(run("{{ len $labels }}", 0.0).unwrap(), "2");
}

#[test]
fn queries() {
    assert_eq!(
        run("{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}", 0.0).unwrap(),
        "a:9100=1;b:9100=0;"
    );
    assert_eq!(
        run(
            "{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}",
            0.0
        )
        .unwrap(),
        "0"
    );
    assert_eq!(
        run("{{ with query \"none\" }}x{{ else }}empty{{ end }}", 0.0).unwrap(),
        "empty"
    );
    assert_eq!(
        run(
            "{{ range $i, $s := query \"up\" }}{{ $i }}:{{ label \"instance\" $s }} {{ end }}",
            0.0
        )
        .unwrap(),
        "0:b:9100 1:a:9100 "
    );
}

#[test]
fn parse_errors_name_the_problem() {
    let e = Template::parse("__alert_T", "{{ $labels.instance ").unwrap_err();
    assert_eq!(e, "template: __alert_T:1: unclosed action");
    let e = Template::parse("__alert_T", "a\n{{ nosuch $value }}").unwrap_err();
    assert_eq!(e, "template: __alert_T:2: function \"nosuch\" not defined");
    let e = Template::parse("__alert_T", "{{ if $value }}x").unwrap_err();
    assert!(e.contains("unexpected EOF"), "{e}");
    let e = Template::parse("__alert_T", "{{ $nope }}").unwrap_err();
    assert!(e.contains("undefined variable"), "{e}");
    let e = Template::parse("__alert_T", "{{ end }}").unwrap_err();
    assert!(e.contains("unexpected {{end}}"), "{e}");
}

#[test]
fn execution_errors_are_text_not_panics() {
    let t = Template::parse("__alert_T", "{{ humanize \"abc\" }}").unwrap();
    let out = t.expand_or_error(&TemplateData::default(), &Fixed);
    assert!(out.starts_with("<error expanding template: error executing template __alert_T: template: __alert_T:1: executing \"__alert_T\" at <humanize>: error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax"), "{out}");
    let out = run("{{ query \"none\" | first }}", 0.0).unwrap_err();
    assert!(
        out.contains("first() called on vector with no elements"),
        "{out}"
    );
    let out = run("{{ .Nope }}", 0.0).unwrap_err();
    assert!(out.contains("can't evaluate field Nope"), "{out}");
}

#[test]
fn output_is_bounded() {
    let src = format!(
        "{{{{ range query \"up\" }}}}{}{{{{ end }}}}",
        "x".repeat(600_000)
    );
    let out = run(&src, 0.0).unwrap_err();
    assert!(out.contains("output longer than"), "{out}");
}
