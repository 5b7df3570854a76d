//! The cgroup v2 interface files, parsed. A missing file is `None` (a controller that is
//! not enabled, a cgroup that went away); a file that is there but does not parse is an
//! error naming the file, the line and what is wrong.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// A parse failure: `<path>: line <n>: <problem>`.
pub(crate) type ParseError = String;

/// Reads a file; `Ok(None)` when it does not exist (or is not readable as one).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ParseError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::IsADirectory
            ) || e.raw_os_error() == Some(19) =>
        {
            // ENODEV: a cgroup removed between listing and reading.
            Ok(None)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn number(path: &Path, line: usize, word: &str) -> Result<u64, ParseError> {
    word.parse().map_err(|_| {
        format!(
            "{}: line {line}: {word:?} is not a whole number",
            path.display()
        )
    })
}

/// A flat keyed file (`cpu.stat`, `memory.stat`, `memory.events`): `key value` lines.
pub(crate) fn keyed(path: &Path, text: &str) -> Result<BTreeMap<String, u64>, ParseError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "{}: line {}: expected \"key value\", found {line:?}",
                path.display(),
                i + 1
            ));
        };
        out.insert(key.to_owned(), number(path, i + 1, value)?);
    }
    Ok(out)
}

/// A single value that may be `max` (`memory.max`, `pids.max`): `None` for `max`, which
/// means no limit (no sample, rather than a huge number).
pub(crate) fn limit(path: &Path, text: &str) -> Result<Option<u64>, ParseError> {
    match text.trim() {
        "max" => Ok(None),
        v => number(path, 1, v).map(Some),
    }
}

/// A single number (`memory.current`, `pids.current`).
pub(crate) fn single(path: &Path, text: &str) -> Result<u64, ParseError> {
    number(path, 1, text.trim())
}

/// One `io.stat` line: a device and its byte and operation counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IoLine {
    /// `major:minor`.
    pub device: String,
    pub rbytes: u64,
    pub wbytes: u64,
    pub rios: u64,
    pub wios: u64,
}

/// `io.stat`: `MAJ:MIN key=value ...` per device; keys it does not know are skipped.
pub(crate) fn io_stat(path: &Path, text: &str) -> Result<Vec<IoLine>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(device) = words.next() else { continue };
        let bad = |what: &str| format!("{}: line {}: {what}", path.display(), i + 1);
        let ok_device = device
            .split_once(':')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
        if !ok_device {
            return Err(bad(&format!("{device:?} is not a MAJOR:MINOR device")));
        }
        let mut l = IoLine {
            device: device.to_owned(),
            ..IoLine::default()
        };
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| bad(&format!("expected key=value, found {word:?}")))?;
            let value = number(path, i + 1, value)?;
            match key {
                "rbytes" => l.rbytes = value,
                "wbytes" => l.wbytes = value,
                "rios" => l.rios = value,
                "wios" => l.wios = value,
                _ => {}
            }
        }
        out.push(l);
    }
    Ok(out)
}

/// The cgroup v2 mount point from a `mountinfo` file (the first `cgroup2` entry), with
/// the kernel's octal escapes (`\040` for a space) undone.
pub(crate) fn cgroup2_mount(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(unescape)
    })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path from a `proc/<pid>/cgroup` file (the `0::` line).
pub(crate) fn own_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("cpu.stat")
    }

    #[test]
    fn keyed_files_and_their_errors() {
        let m = keyed(p(), "usage_usec 10\nuser_usec 7\n\n").unwrap();
        assert_eq!(m.get("usage_usec"), Some(&10));
        assert_eq!(m.len(), 2);
        let e = keyed(p(), "usage_usec 10\nuser_usec\n").unwrap_err();
        assert_eq!(
            e,
            "cpu.stat: line 2: expected \"key value\", found \"user_usec\""
        );
        let e = keyed(p(), "usage_usec -1\n").unwrap_err();
        assert_eq!(e, "cpu.stat: line 1: \"-1\" is not a whole number");
    }

    #[test]
    fn max_is_no_limit() {
        assert_eq!(limit(p(), "max\n").unwrap(), None);
        assert_eq!(limit(p(), "4915\n").unwrap(), Some(4915));
        assert!(limit(p(), "lots\n").unwrap_err().contains("\"lots\""));
    }

    #[test]
    fn io_stat_lines() {
        let l = io_stat(p(), "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n").unwrap();
        assert_eq!(
            l,
            [IoLine {
                device: "8:0".into(),
                rbytes: 1,
                wbytes: 2,
                rios: 3,
                wios: 4
            }]
        );
        assert!(io_stat(p(), "sda rbytes=1\n")
            .unwrap_err()
            .contains("MAJOR:MINOR"));
        assert!(io_stat(p(), "8:0 rbytes\n")
            .unwrap_err()
            .contains("key=value"));
        assert!(io_stat(p(), "8:0 rbytes=x\n")
            .unwrap_err()
            .contains("\"x\""));
    }

    #[test]
    fn mountinfo_and_own_cgroup() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(mi).as_deref(),
            Some("/sys/fs/cgroup/uni fied")
        );
        assert_eq!(cgroup2_mount("31 23 0:28 / /x rw - tmpfs tmpfs rw\n"), None);
        assert_eq!(
            own_path("4:memory:/a\n0::/system.slice/x.service\n").as_deref(),
            Some("/system.slice/x.service")
        );
        assert_eq!(own_path("4:memory:/a\n"), None);
    }
}
