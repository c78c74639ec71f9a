//! The run report in a real browser: Debian's `chromium`, headless, with the network cut off
//! (a proxy that does not exist, every host name unresolvable). It loads the page of a fixed
//! run and of a 10,000-task run; the rendered DOM must hold every task with its status and
//! the failure's last lines, and a screenshot must not be blank. Chromium is slow to start on
//! two shared CPUs: four launches in all.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use engine_test_support::Test;

use super::report::{SMALL, marks};

/// Chromium, headless, sandbox off (tests may run as root), no GPU, no network.
fn chromium(page: &Path, action: &str) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1280,1600",
            action,
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium (`apt-get install chromium`; `.ci/run` installs it)")
}

/// The rendered DOM.
fn dump_dom(page: &Path) -> String {
    let out = chromium(page, "--dump-dom");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

/// Takes a screenshot and checks it is not blank: many pixels of many colours.
fn screenshot_is_not_blank(page: &Path, png: &Path) {
    let out = chromium(page, &format!("--screenshot={}", png.display()));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let pixels = &pixels[..info.buffer_size()];
    let step = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(step).collect();
    let background = pixels.chunks(step).next().expect("a pixel");
    let drawn = pixels.chunks(step).filter(|&px| px != background).count();
    assert!(
        info.width >= 1000 && info.height >= 1000,
        "{}x{}",
        info.width,
        info.height
    );
    assert!(colours.len() > 20, "only {} colours", colours.len());
    assert!(
        drawn > pixels.len() / step / 50,
        "only {drawn} pixels drawn"
    );
}

/// The `data-laid-out-ms` stamp the page's script leaves once laid out.
fn laid_out_ms(dom: &str) -> u64 {
    let at = dom
        .find("data-laid-out-ms=\"")
        .expect("the page was laid out")
        + 18;
    dom[at..]
        .split('"')
        .next()
        .and_then(|ms| ms.parse().ok())
        .expect("a number")
}

#[test]
fn the_report_of_a_small_run_renders_offline() {
    let test = Test::run_of(SMALL)
        .args(["--keep-going", "--report=run.html"])
        .status(1);
    test.run();
    let page = test.path("run.html");
    let dom = dump_dom(&page);
    for (task, status) in [
        ("gen", "succeeded"),
        ("flaky", "succeeded"),
        ("bad", "failed"),
        ("after_bad", "skipped"),
        ("think", "succeeded"),
        ("m[n=1]", "succeeded"),
        ("m[n=2]", "succeeded"),
    ] {
        assert!(
            marks(&dom, task, status),
            "`{task}` is not {status} in the DOM"
        );
    }
    assert!(dom.contains("the last words"), "the failure's last lines");
    assert!(dom.contains("<svg"), "the timeline is drawn");
    laid_out_ms(&dom);
    screenshot_is_not_blank(&page, &test.path("small.png"));
}

/// `count` thread tasks in layers of 100, each after one task of the layer before.
fn many_tasks(count: usize) -> String {
    let mut yaml = String::from("tasks:\n");
    for i in 0..count {
        yaml.push_str(&format!("  t{i:05}: {{script: \"let x = 1;\""));
        if i >= 100 {
            yaml.push_str(&format!(", depends_on: [t{:05}]", i - 100));
        }
        yaml.push_str("}\n");
    }
    yaml
}

#[test]
fn the_report_of_10000_tasks_is_small_and_opens() {
    let test = Test::run_of(&many_tasks(10_000)).args(["--report=big.html", "--progress", "none"]);
    test.run();
    let page = test.path("big.html");
    let size = std::fs::metadata(&page).expect("a report").len();
    assert!(size < 10 << 20, "{size} bytes");
    let dom = dump_dom(&page);
    assert_eq!(dom.matches("data-status=\"succeeded\"").count(), 10_000);
    // Generous (two CPUs shared with other builds): the real numbers are in BENCHMARKS.md.
    let ms = laid_out_ms(&dom);
    assert!(
        Duration::from_millis(ms) < Duration::from_secs(240),
        "laid out in {ms} ms"
    );
    screenshot_is_not_blank(&page, &test.path("big.png"));
}
