//! `liandong demo`: runs real nodes in a temporary folder and walks real cases through them,
//! printing each case's timeline and checking every expectation. Exits non-zero if any fails.
//!
//! Today the demo runs one county center (仙游县, 350322) with its clock set to the eve of the
//! 2025 National Day holiday, so deadlines visibly skip the eight days off and the 调休 Saturday.
//! It then crashes the node with SIGKILL, restarts it three weeks later and checks that every
//! acknowledged case survived and that the overdue one turned red.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use federation_proto::applicant::{credit_code_with_check, resident_id_with_check};
use serde_json::{json, Value};

use crate::cli::init::{create, InitArgs};
use crate::client::Client;
use crate::launcher::NodeProcess;

const COUNTY: &str = "350322";
const START: &str = "2025-09-30T09:00";
const LATER: &str = "2025-10-20T09:00";

/// The expectations and how many held.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
    passed: usize,
}

impl Checks {
    fn expect(&mut self, what: &str, actual: &Value, expected: Value) {
        if *actual == expected {
            self.passed += 1;
            println!("  ✓ {what}: {}", brief(actual));
        } else {
            println!("  ✗ {what}: expected {expected}, got {actual}");
            self.failed.push(what.to_string());
        }
    }

    fn expect_refused(&mut self, what: &str, result: Result<Value>) {
        match result {
            Err(e) => {
                self.passed += 1;
                println!("  ✓ {what}: refused ({e})");
            }
            Ok(_) => {
                println!("  ✗ {what}: expected a refusal, the node accepted it");
                self.failed.push(what.to_string());
            }
        }
    }
}

/// A value shortened for one line of output.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// The operators of the demo center.
struct Window {
    admin: Client,
    config: PathBuf,
}

impl Window {
    fn clerk(&self, name: &str, department: &str) -> Result<Client> {
        let answer = self.admin.post(
            "/api/v1/operators",
            &json!({"name": name, "role": "clerk", "department": department}),
        )?;
        let token = answer["token"].as_str().context("no token in answer")?;
        Client::connect(&self.config, None, Some(token))
    }
}

/// Runs the demo; `Ok(false)` when an expectation failed. The working folder is removed
/// afterwards unless `keep` names it.
pub fn run(keep: Option<&Path>) -> Result<bool> {
    let temp = tempfile_dir(keep)?;
    println!("liandong demo — working in {}", temp.display());
    let outcome = run_in(&temp);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    outcome
}

fn run_in(temp: &Path) -> Result<bool> {
    let config = create(InitArgs {
        code: COUNTY.parse()?,
        name: "仙游县行政服务中心".into(),
        dir: temp.join(COUNTY),
        parent: None,
        listen: "127.0.0.1:0".parse()?,
        api: "127.0.0.1:0".parse()?,
    })?;
    let log = temp.join(format!("{COUNTY}.log"));
    let mut node = NodeProcess::start(&config, Some(START), &log)?;
    println!(
        "started county node {COUNTY} (clock {START}); log in {}",
        log.display()
    );
    let window = Window {
        admin: Client::connect(&config, None, None)?,
        config: config.clone(),
    };
    let mut checks = Checks::default();
    let cases = walk_cases(&window, &mut checks)?;

    println!("\n== crash: SIGKILL, then restart three weeks later ({LATER}) ==");
    node.kill()?;
    let _node = NodeProcess::start(&config, Some(LATER), &log)?;
    let admin = Client::connect(&config, None, None)?;
    for (case_no, before) in &cases {
        let after = admin.get(&format!("/api/v1/cases/{case_no}"))?;
        checks.expect(
            &format!("{case_no} history survives"),
            &after["events"],
            before["events"].clone(),
        );
    }
    let overdue = admin.get("/api/v1/cases?warning=red")?;
    let red: Vec<Value> = overdue["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["item"].clone())
        .collect();
    checks.expect(
        "overdue cases after restart",
        &Value::from(red),
        json!(["000173009000"]),
    );
    let status = admin.get("/api/v1/status")?;
    println!(
        "\n== status of {COUNTY} ==\n{}",
        serde_json::to_string_pretty(&status["totals"])?
    );
    checks.expect("overdue in status", &status["totals"]["overdue"], json!(1));

    println!(
        "\n{} checks passed, {} failed",
        checks.passed,
        checks.failed.len()
    );
    for f in &checks.failed {
        println!("  failed: {f}");
    }
    Ok(checks.failed.is_empty())
}

fn tempfile_dir(keep: Option<&Path>) -> Result<PathBuf> {
    let dir = match keep {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("liandong-demo-{}", std::process::id())),
    };
    if dir.exists() {
        anyhow::bail!(
            "{} exists already; give an empty or new folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn person(name: &str, first17: &str) -> Result<Value> {
    let id = resident_id_with_check(first17).context("demo resident ID")?;
    Ok(json!({"kind": "person", "name": name, "id": id}))
}

fn org(name: &str, first17: &str) -> Result<Value> {
    let id = credit_code_with_check(first17).context("demo credit code")?;
    Ok(json!({"kind": "org", "name": name, "id": id}))
}

/// Every material the catalog lists for `item`, minus `leave_out`.
fn materials(client: &Client, item: &str, leave_out: &[&str]) -> Result<Value> {
    let catalog = client.get("/api/v1/catalog")?;
    let entry = catalog["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["code"] == item))
        .with_context(|| format!("item {item} not in catalog"))?;
    let names: Vec<Value> = entry["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["name"].clone())
        .filter(|n| !leave_out.iter().any(|l| n == l))
        .collect();
    Ok(Value::from(names))
}

fn act(client: &Client, case_no: &Value, body: Value) -> Result<Value> {
    let no = case_no.as_str().context("case number")?;
    client.post(&format!("/api/v1/cases/{no}/actions"), &body)
}

fn show(title: &str, case: &Value) {
    println!("\n== {title} ==");
    crate::cli::case::print_case(case, false);
}

/// Walks one case of each kind; returns each case's final view.
fn walk_cases(w: &Window, c: &mut Checks) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for case in [
        immediate(w, c)?,
        promised(w, c)?,
        with_fee(w, c)?,
        joint(w, c)?,
        suspended_then_withdrawn(w, c)?,
        refused(w, c)?,
        left_open(w, c)?,
    ] {
        out.push((
            case["case_no"].as_str().unwrap_or_default().to_string(),
            case,
        ));
    }
    Ok(out)
}

/// 即办件: decided at the window in one step.
fn immediate(w: &Window, c: &mut Checks) -> Result<Value> {
    let clerk = w.clerk("林窗口", "市场监督管理局")?;
    let item = "000187002000";
    let case = clerk.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": person("陈海生", "35032219800101123")?,
            "materials": materials(&clerk, item, &[])?,
        }),
    )?;
    c.expect(
        "即办: approved at intake",
        &case["state"],
        json!("approved"),
    );
    c.expect(
        "即办: concluded the day it was accepted",
        &case["concluded_on"],
        case["accepted_on"].clone(),
    );
    let case = act(&clerk, &case["case_no"], json!({"action": "deliver"}))?;
    c.expect("即办: delivered", &case["state"], json!("delivered"));
    show("即办件 个体工商户设立登记", &case);
    Ok(case)
}

/// 承诺件 with 补正 (missing core materials) and 容缺 (owed non-core ones).
fn promised(w: &Window, c: &mut Checks) -> Result<Value> {
    let clerk = w.clerk("郑窗口", "住房和城乡建设局")?;
    let item = "000172005000";
    let missing = ["施工图审查合格书", "施工合同"];
    let owed = ["工程质量安全监督手续", "授权委托书"];
    let mut leave_out = missing.to_vec();
    leave_out.extend(owed);
    let case = clerk.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": org("莆田市仙游建工有限公司", "91350322MA2XN0001")?,
            "materials": materials(&clerk, item, &leave_out)?,
        }),
    )?;
    c.expect(
        "承诺: waits for supplement",
        &case["state"],
        json!("awaiting_supplement"),
    );
    c.expect(
        "承诺: 一次性告知 lists all missing core materials",
        &case["missing"],
        json!(missing),
    );
    let no = case["case_no"].clone();
    let case = act(
        &clerk,
        &no,
        json!({"action": "supplement", "materials": missing}),
    )?;
    c.expect(
        "承诺: accepted once complete",
        &case["state"],
        json!("accepted"),
    );
    c.expect("承诺: 容缺 materials owed", &case["owed"], json!(owed));
    c.expect(
        "承诺: 3 working days skip National Day (Oct 9, 10, Sat 11)",
        &case["deadline"],
        json!("2025-10-11"),
    );
    c.expect(
        "承诺: legal 15 working days",
        &case["legal_deadline"],
        json!("2025-10-28"),
    );
    act(&clerk, &no, json!({"action": "review"}))?;
    c.expect_refused(
        "承诺: no approval while 容缺 materials are owed",
        act(
            &clerk,
            &no,
            json!({"action": "decide", "approve": true, "reason": "符合条件"}),
        ),
    );
    act(
        &clerk,
        &no,
        json!({"action": "supplement", "materials": owed}),
    )?;
    act(
        &clerk,
        &no,
        json!({"action": "decide", "approve": true, "reason": "符合法定条件"}),
    )?;
    act(
        &clerk,
        &no,
        json!({"action": "certify", "certificate_no": "350322202509300101"}),
    )?;
    act(&clerk, &no, json!({"action": "deliver"}))?;
    let case = act(
        &clerk,
        &no,
        json!({"action": "rate", "satisfaction": 1, "comment": "一次办好"}),
    )?;
    c.expect(
        "承诺: delivered and rated",
        &json!([&case["state"], &case["rating"]["satisfaction"]]),
        json!(["delivered", 1]),
    );
    c.expect("承诺: concluded on time", &case["warning"], json!("green"));
    show("承诺件 建筑工程施工许可证核发 (补正, 容缺)", &case);
    Ok(case)
}

/// An item with a fee: certify only after payment of exactly the fee.
fn with_fee(w: &Window, c: &mut Checks) -> Result<Value> {
    let clerk = w.clerk("黄窗口", "自然资源和规划局")?;
    let item = "000171021000";
    let case = clerk.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": person("吴美玲", "35032219920615234")?,
            "materials": materials(&clerk, item, &[])?,
        }),
    )?;
    let no = case["case_no"].clone();
    act(&clerk, &no, json!({"action": "review"}))?;
    act(
        &clerk,
        &no,
        json!({"action": "decide", "approve": true, "reason": "权属清楚"}),
    )?;
    c.expect_refused(
        "收费: no certificate before payment",
        act(
            &clerk,
            &no,
            json!({"action": "certify", "certificate_no": "闽(2025)仙游县不动产权第0001号"}),
        ),
    );
    c.expect_refused(
        "收费: wrong amount",
        act(
            &clerk,
            &no,
            json!({"action": "pay", "amount_fen": 800, "receipt": "R1"}),
        ),
    );
    act(
        &clerk,
        &no,
        json!({"action": "pay", "amount_fen": 8000, "receipt": "FS-2025-0930-01"}),
    )?;
    act(
        &clerk,
        &no,
        json!({"action": "certify", "certificate_no": "闽(2025)仙游县不动产权第0001号"}),
    )?;
    let case = act(&clerk, &no, json!({"action": "deliver"}))?;
    c.expect("收费: delivered", &case["state"], json!("delivered"));
    show("承诺件 不动产转移登记 (80.00 元)", &case);
    Ok(case)
}

/// 联办件: a joint review among departments, with a disagreement overridden on the record.
fn joint(w: &Window, c: &mut Checks) -> Result<Value> {
    let lead = w.clerk("蔡窗口", "住房和城乡建设局")?;
    let item = "000172023000";
    let case = lead.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": org("仙游县城投集团", "91350322MA2XN0002")?,
            "materials": materials(&lead, item, &[])?,
        }),
    )?;
    let no = case["case_no"].clone();
    let departments = ["自然资源和规划局", "人民防空办公室", "气象局"];
    let participants: Vec<Value> = departments
        .iter()
        .map(|d| json!({"node": COUNTY, "department": d}))
        .collect();
    act(&lead, &no, json!({"action": "review"}))?;
    act(
        &lead,
        &no,
        json!({"action": "open_joint_review", "participants": participants, "feedback_days": 3}),
    )?;
    c.expect_refused(
        "联办: no decision before every opinion",
        act(
            &lead,
            &no,
            json!({"action": "decide", "approve": true, "reason": "验收合格"}),
        ),
    );
    for (i, d) in departments.iter().enumerate() {
        let clerk = w.clerk(&format!("{d}审查员"), d)?;
        let agree = i != 1;
        act(
            &clerk,
            &no,
            json!({"action": "opinion", "agree": agree, "comment": if agree { "同意" } else { "人防工程资料不全" }}),
        )?;
    }
    c.expect_refused(
        "联办: a disagreement needs an override reason",
        act(
            &lead,
            &no,
            json!({"action": "decide", "approve": true, "reason": "验收合格"}),
        ),
    );
    act(
        &lead,
        &no,
        json!({"action": "decide", "approve": true, "reason": "验收合格", "override_reason": "人防资料已于联审会后补齐"}),
    )?;
    let case = act(&lead, &no, json!({"action": "deliver"}))?;
    c.expect("联办: delivered", &case["state"], json!("delivered"));
    c.expect(
        "联办: three opinions recorded",
        &Value::from(case["participants"].as_array().map_or(0, |p| {
            p.iter().filter(|p| p.get("opinion").is_some()).count()
        })),
        json!(3),
    );
    show("联办件 建设工程竣工联合验收", &case);
    Ok(case)
}

/// 特别程序 pauses the clock; the applicant then withdraws.
fn suspended_then_withdrawn(w: &Window, c: &mut Checks) -> Result<Value> {
    let clerk = w.clerk("许窗口", "卫生健康局")?;
    let item = "000152021000";
    let case = clerk.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": org("仙游县枫亭酒店", "91350322MA2XN0003")?,
            "materials": materials(&clerk, item, &[])?,
        }),
    )?;
    let no = case["case_no"].clone();
    let case = act(
        &clerk,
        &no,
        json!({"action": "suspend", "procedure": "site_survey", "reason": "现场核查"}),
    )?;
    c.expect("特别程序: suspended", &case["state"], json!("suspended"));
    act(&clerk, &no, json!({"action": "resume"}))?;
    let case = act(&clerk, &no, json!({"action": "withdraw"}))?;
    c.expect("撤回: withdrawn", &case["state"], json!("withdrawn"));
    show("承诺件 公共场所卫生许可 (特别程序, 撤回)", &case);
    Ok(case)
}

/// 不予受理.
fn refused(w: &Window, c: &mut Checks) -> Result<Value> {
    let clerk = w.clerk("方窗口", "市场监督管理局")?;
    let item = "000187005000";
    let case = clerk.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": person("李阿福", "35032219750808345")?,
            "materials": ["食品经营许可申请书"],
        }),
    )?;
    let case = act(
        &clerk,
        &case["case_no"],
        json!({"action": "refuse", "reason": "经营场所位于禁止区域，不属于受理范围"}),
    )?;
    c.expect(
        "不予受理: not_accepted",
        &case["state"],
        json!("not_accepted"),
    );
    show("不予受理 食品经营许可", &case);
    Ok(case)
}

/// Accepted and left undecided: due 2025-10-14, so red after the restart on 2025-10-20.
fn left_open(w: &Window, c: &mut Checks) -> Result<Value> {
    let clerk = w.clerk("朱窗口", "交通运输局")?;
    let item = "000173009000";
    let case = clerk.post(
        "/api/v1/cases",
        &json!({
            "item": item, "applicant": org("仙游县顺达物流有限公司", "91350322MA2XN0004")?,
            "materials": materials(&clerk, item, &[])?,
        }),
    )?;
    let case = act(&clerk, &case["case_no"], json!({"action": "review"}))?;
    c.expect(
        "在办: 5 working days after Sep 30 is Oct 14",
        &case["deadline"],
        json!("2025-10-14"),
    );
    c.expect("在办: green today", &case["warning"], json!("green"));
    show("承诺件 道路货物运输经营许可 (left open)", &case);
    Ok(case)
}
