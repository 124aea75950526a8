//! The cases one county center handles on its own, at 城厢区 (350302): one of each kind, walked
//! through the node's API with the clock on the eve of the 2025 National Day holiday, so
//! deadlines visibly skip the eight days off and the 调休 Saturday. After the time jump the case
//! left open has turned red, and every history survived the SIGKILL.

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::checks::Checks;
use super::federation::{Desk, Federation, CHENGXIANG};
use super::{case_no, materials, org, person};

/// Where the local cases run.
const NODE: &str = CHENGXIANG;

/// The local cases' final views before the jump, by case number.
pub struct LocalCases(Vec<(String, Value)>);

impl LocalCases {
    pub fn case_nos(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(no, _)| no.as_str())
    }
}

/// Walks one case of each kind; returns each case's final view.
pub fn walk(fed: &Federation, c: &mut Checks) -> Result<LocalCases> {
    let walks: [fn(&Federation, &mut Checks) -> Result<Value>; 7] = [
        immediate,
        promised,
        with_fee,
        joint,
        suspended_then_withdrawn,
        refused,
        left_open,
    ];
    let mut out = Vec::new();
    for walk in walks {
        let case = walk(fed, c)?;
        let no = case["case_no"].as_str().context("a case without number")?;
        out.push((no.to_string(), case));
    }
    Ok(LocalCases(out))
}

/// After the restart three weeks later: every history is intact, and the case left open is the
/// one overdue case.
pub fn after_jump(fed: &Federation, cases: &LocalCases, c: &mut Checks) -> Result<()> {
    println!("\n== local cases at {NODE} after the restart ==");
    let admin = fed.admin(NODE)?;
    for (case_no, before) in &cases.0 {
        let after = admin.get(&format!("/api/v1/cases/{case_no}"))?;
        let (kept, added) = split_history(&after["events"], &before["events"]);
        c.expect(
            &format!("本地: {case_no} history survives"),
            &event_ids(&kept),
            event_ids(&before["events"]),
        );
        for e in added {
            println!(
                "    + since the restart: {} {} by {} {}",
                e["at"].as_str().unwrap_or("-"),
                e["action"].as_str().unwrap_or("-"),
                e["origin"].as_str().unwrap_or("-"),
                e["actor"].as_str().unwrap_or("-")
            );
        }
    }
    let overdue = admin.get("/api/v1/cases?warning=red")?;
    let red: Vec<Value> = overdue["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["item"].clone())
        .collect();
    c.expect(
        "本地: overdue cases after the jump",
        &Value::from(red),
        json!(["000173009000"]),
    );
    let status = admin.get("/api/v1/status")?;
    let t = &status["totals"];
    println!(
        "  status of {NODE}: {} cases, {} overdue, on-time rate {}, by state {}",
        t["cases"], t["overdue"], t["on_time_rate"], t["by_state"]
    );
    c.expect(
        "本地: overdue in status",
        &status["totals"]["overdue"],
        json!(1),
    );
    Ok(())
}

/// The events of `after` that `before` held too, and those added since (e.g. an automatic 督办
/// of a case that turned red).
fn split_history(after: &Value, before: &Value) -> (Value, Vec<Value>) {
    let known = |e: &Value| {
        before
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| b["origin"] == e["origin"] && b["seq"] == e["seq"])
    };
    let (kept, added): (Vec<Value>, Vec<Value>) = after
        .as_array()
        .into_iter()
        .flatten()
        .cloned()
        .partition(known);
    (Value::from(kept), added)
}

/// Events as `origin:seq action`, short enough to read in a check's line.
fn event_ids(events: &Value) -> Value {
    events
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            Value::from(format!(
                "{}:{} {}",
                e["origin"].as_str().unwrap_or("?"),
                e["seq"],
                e["action"].as_str().unwrap_or("?")
            ))
        })
        .collect()
}

fn desk(fed: &Federation, name: &str, department: &str) -> Result<Desk> {
    fed.desk(NODE, name, department)
}

fn show(title: &str, case: &Value) {
    println!("\n  ── {title} ──");
    match serde_json::from_value::<crate::contract::CaseView>(case.clone()) {
        Ok(case) => print!("{}", crate::render::case::CaseView(&case)),
        Err(e) => println!("  (not a case view: {e}: {case})"),
    }
    println!();
}

/// 即办件: decided at the window in one step.
fn immediate(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let clerk = desk(fed, "林窗口", "市场监督管理局")?;
    let case = clerk.submit_complete("000187002000", person("陈海生", "35030219800101123")?)?;
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
    let case = clerk.act(case_no(&case)?, json!({"action": "deliver"}))?;
    c.expect("即办: delivered", &case["state"], json!("delivered"));
    show("即办件 个体工商户设立登记", &case);
    Ok(case)
}

/// 承诺件 with 补正 (missing core materials) and 容缺 (owed non-core ones).
fn promised(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let clerk = desk(fed, "郑窗口", "住房和城乡建设局")?;
    let item = "000172005000";
    let missing = ["施工图审查合格书", "施工合同"];
    let owed = ["工程质量安全监督手续", "授权委托书"];
    let mut leave_out = missing.to_vec();
    leave_out.extend(owed);
    let case = clerk.submit(
        item,
        org("莆田市城厢建工有限公司", "91350302MA2XN0001")?,
        materials(&clerk, item, &leave_out)?,
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
    let no = case_no(&case)?;
    let case = clerk.act(no, json!({"action": "supplement", "materials": missing}))?;
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
    clerk.act(no, json!({"action": "review"}))?;
    c.expect_refused(
        "承诺: no approval while 容缺 materials are owed",
        clerk.attempt(
            no,
            json!({"action": "decide", "approve": true, "reason": "符合条件"}),
        ),
    );
    clerk.act(no, json!({"action": "supplement", "materials": owed}))?;
    clerk.act(
        no,
        json!({"action": "decide", "approve": true, "reason": "符合法定条件"}),
    )?;
    clerk.act(
        no,
        json!({"action": "certify", "certificate_no": "350302202509300101"}),
    )?;
    clerk.act(no, json!({"action": "deliver"}))?;
    let case = clerk.act(
        no,
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
fn with_fee(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let clerk = desk(fed, "黄窗口", "自然资源和规划局")?;
    let certificate =
        json!({"action": "certify", "certificate_no": "闽(2025)莆田市城厢区不动产权第0001号"});
    let case = clerk.submit_complete("000171021000", person("吴美玲", "35030219920615234")?)?;
    let no = case_no(&case)?;
    clerk.act(no, json!({"action": "review"}))?;
    clerk.act(
        no,
        json!({"action": "decide", "approve": true, "reason": "权属清楚"}),
    )?;
    c.expect_refused(
        "收费: no certificate before payment",
        clerk.attempt(no, certificate.clone()),
    );
    c.expect_refused(
        "收费: wrong amount",
        clerk.attempt(
            no,
            json!({"action": "pay", "amount_fen": 800, "receipt": "R1"}),
        ),
    );
    clerk.act(
        no,
        json!({"action": "pay", "amount_fen": 8000, "receipt": "FS-2025-0930-01"}),
    )?;
    clerk.act(no, certificate)?;
    let case = clerk.act(no, json!({"action": "deliver"}))?;
    c.expect("收费: delivered", &case["state"], json!("delivered"));
    show("承诺件 不动产转移登记 (80.00 元)", &case);
    Ok(case)
}

/// 联办件 within one county: a joint review among its departments, with a disagreement
/// overridden on the record.
fn joint(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let lead = desk(fed, "蔡窗口", "住房和城乡建设局")?;
    let case = lead.submit_complete(
        "000172023000",
        org("城厢区城市建设投资有限公司", "91350302MA2XN0002")?,
    )?;
    let no = case_no(&case)?;
    let departments = ["自然资源和规划局", "人民防空办公室", "气象局"];
    let participants: Vec<Value> = departments
        .iter()
        .map(|d| json!({"node": NODE, "department": d}))
        .collect();
    lead.act(no, json!({"action": "review"}))?;
    lead.act(
        no,
        json!({"action": "open_joint_review", "participants": participants, "feedback_days": 3}),
    )?;
    let approve = json!({"action": "decide", "approve": true, "reason": "验收合格"});
    c.expect_refused(
        "联办: no decision before every opinion",
        lead.attempt(no, approve.clone()),
    );
    for (i, d) in departments.iter().enumerate() {
        let clerk = desk(fed, &format!("{d}审查员"), d)?;
        let agree = i != 1;
        let comment = if agree {
            "同意"
        } else {
            "人防工程资料不全"
        };
        clerk.act(
            no,
            json!({"action": "opinion", "agree": agree, "comment": comment}),
        )?;
    }
    c.expect_refused(
        "联办: a disagreement needs an override reason",
        lead.attempt(no, approve),
    );
    lead.act(
        no,
        json!({"action": "decide", "approve": true, "reason": "验收合格", "override_reason": "人防资料已于联审会后补齐"}),
    )?;
    let case = lead.act(no, json!({"action": "deliver"}))?;
    c.expect("联办: delivered", &case["state"], json!("delivered"));
    let opinions = case["participants"].as_array().map_or(0, |p| {
        p.iter().filter(|p| p.get("opinion").is_some()).count()
    });
    c.expect(
        "联办: three opinions recorded",
        &Value::from(opinions),
        json!(3),
    );
    show("联办件 建设工程竣工联合验收", &case);
    Ok(case)
}

/// 特别程序 pauses the clock; the applicant then withdraws.
fn suspended_then_withdrawn(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let clerk = desk(fed, "许窗口", "卫生健康局")?;
    let case = clerk.submit_complete(
        "000152021000",
        org("莆田市城厢区凤凰山酒店", "91350302MA2XN0003")?,
    )?;
    let no = case_no(&case)?;
    let case = clerk.act(
        no,
        json!({"action": "suspend", "procedure": "site_survey", "reason": "现场核查"}),
    )?;
    c.expect("特别程序: suspended", &case["state"], json!("suspended"));
    clerk.act(no, json!({"action": "resume"}))?;
    let case = clerk.act(no, json!({"action": "withdraw"}))?;
    c.expect("撤回: withdrawn", &case["state"], json!("withdrawn"));
    show("承诺件 公共场所卫生许可 (特别程序, 撤回)", &case);
    Ok(case)
}

/// 不予受理.
fn refused(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let clerk = desk(fed, "方窗口", "市场监督管理局")?;
    let item = "000187005000";
    let case = clerk.submit(
        item,
        person("李阿福", "35030219750808345")?,
        json!(["食品经营许可申请书"]),
    )?;
    let case = clerk.act(
        case_no(&case)?,
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
fn left_open(fed: &Federation, c: &mut Checks) -> Result<Value> {
    let clerk = desk(fed, "朱窗口", "交通运输局")?;
    let case = clerk.submit_complete(
        "000173009000",
        org("莆田市城厢区顺达物流有限公司", "91350302MA2XN0004")?,
    )?;
    let case = clerk.act(case_no(&case)?, json!({"action": "review"}))?;
    c.expect(
        "在办: 5 working days after Sep 30 is Oct 14",
        &case["deadline"],
        json!("2025-10-14"),
    );
    c.expect("在办: green today", &case["warning"], json!("green"));
    show("承诺件 道路货物运输经营许可 (left open)", &case);
    Ok(case)
}
