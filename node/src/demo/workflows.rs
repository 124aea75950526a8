//! The cross-level workflows (跨层级业务), each one case walked across nodes through their own
//! APIs, each step at the node where a real clerk would do it:
//!
//! 1. 跨层级受理 (就近办): 枫亭镇 accepts a county item, 仙游县 decides after a 补件 recorded back
//!    at the township window, 枫亭镇 certifies and delivers.
//! 2. 上报件: 仙游县 pre-reviews (初审) a city item, 莆田市 decides, 仙游县 delivers.
//! 3. 退回: 城厢区 returns a case to 龙桥街道, which takes it back.
//! 4. 同时操作: a withdrawal at 枫亭镇 races a decision at 仙游县; the fold rejects exactly one.
//! 5. 市县联动联审: 仙游县 owns a joint review with seats at 莆田市, 仙游县 and 枫亭镇; 枫亭镇
//!    answers late — after the time jump — and turns red in the owner's and its own view.
//!
//! Replication is asynchronous, so before a step at another node the demo waits until that
//! node holds what the previous step did ([`Federation::sync`]). After each workflow every
//! involved node must hold the same history and state, and no other node may hold the case at
//! all (the applicant's identity stays with the involved nodes).

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use super::checks::Checks;
use super::federation::{
    label, Desk, Federation, Views, CHENGXIANG, CITY, FENGTING, LONGQIAO, XIANYOU,
};
use super::{case_no, org, person, timeline};

/// One workflow's case and who is involved in it.
pub struct Flow {
    title: &'static str,
    /// Starts the name of each of the workflow's checks (what `--falsify` matches).
    prefix: &'static str,
    pub case_no: String,
    involved: Vec<&'static str>,
    /// The case as the first involved node saw it when the workflow ended (before the jump).
    before: Option<Value>,
}

/// The workflows after the first day; the joint review still waits for its late participant.
pub struct Pending {
    flows: Vec<Flow>,
    joint: Joint,
}

/// The joint review left open across the time jump, and the desks that finish it.
struct Joint {
    flow: Flow,
    lead: Desk,
    late: Desk,
}

/// Runs workflows 1–4, and 5 up to the time jump.
pub fn before_jump(fed: &Federation, c: &mut Checks) -> Result<Pending> {
    let mut flows = Vec::new();
    for walk in [cross_level, report_up, returned, race] {
        let mut flow = walk(fed, c)?;
        finish(fed, &mut flow, c)?;
        flows.push(flow);
    }
    let joint = open_joint_review(fed, c)?;
    Ok(Pending { flows, joint })
}

/// After the restart: every workflow's history survived on every involved node; the late
/// participant shows red, answers, and the owner decides.
pub fn after_jump(fed: &Federation, pending: Pending, c: &mut Checks) -> Result<Vec<Flow>> {
    println!("\n== the workflows after the restart ==");
    for flow in &pending.flows {
        let mut views = fed.converge(&flow.case_no, &flow.involved)?;
        views.push(("before the restart".to_string(), flow.before.clone()));
        c.expect_agreement(
            &format!(
                "{}: after the SIGKILL every involved node holds what it held before",
                flow.prefix
            ),
            &views,
        );
    }
    let mut joint = pending.joint;
    close_joint_review(fed, &joint, c)?;
    finish(fed, &mut joint.flow, c)?;
    let mut flows = pending.flows;
    flows.push(joint.flow);
    Ok(flows)
}

fn heading(title: &str) {
    println!("\n── {title} ──");
}

/// The end of a workflow: every involved node agrees, nobody else holds the case, and the
/// timeline as each node sees it.
fn finish(fed: &Federation, flow: &mut Flow, c: &mut Checks) -> Result<()> {
    let views = fed.converge(&flow.case_no, &flow.involved)?;
    c.expect_agreement(
        &format!(
            "{}: every involved node holds the same history",
            flow.prefix
        ),
        &views,
    );
    let mut holders = Vec::new();
    for node in fed
        .codes()
        .into_iter()
        .filter(|n| !flow.involved.contains(n))
    {
        if fed.case_on(node, &flow.case_no)?.is_some() {
            holders.push(node);
        }
    }
    c.expect(
        &format!("{}: no node outside the case holds it", flow.prefix),
        &json!(holders),
        json!([]),
    );
    let mut shown = views.clone();
    if !flow.involved.contains(&CITY) {
        shown.push((CITY.to_string(), fed.case_on(CITY, &flow.case_no)?));
    }
    timeline::print_case(&format!("{} · {}", flow.title, flow.case_no), &shown);
    flow.before = views[0].1.clone();
    Ok(())
}

fn flow(
    title: &'static str,
    prefix: &'static str,
    case: &Value,
    involved: &[&'static str],
) -> Result<Flow> {
    Ok(Flow {
        title,
        prefix,
        case_no: case_no(case)?.to_string(),
        involved: involved.to_vec(),
        before: None,
    })
}

fn decide(approve: bool, reason: &str) -> Value {
    json!({"action": "decide", "approve": approve, "reason": reason})
}

fn action(name: &str) -> Value {
    json!({ "action": name })
}

/// 1. 跨层级受理: accepted at the township, decided at the county, delivered at the township.
fn cross_level(fed: &Federation, c: &mut Checks) -> Result<Flow> {
    heading("1. 跨层级受理 (就近办): 残疾人证 accepted at 枫亭镇, decided at 仙游县, delivered at 枫亭镇");
    let window = fed.desk(FENGTING, "陈窗口", "残疾人联合会")?;
    let county = fed.desk(XIANYOU, "林审核", "残疾人联合会")?;
    let case = window.submit_complete("000306001000", person("黄秀英", "35032219650312456")?)?;
    let no = case_no(&case)?;
    let both = [FENGTING, XIANYOU];
    c.expect(
        "跨层级: accepted at the township",
        &case["state"],
        json!("accepted"),
    );
    c.expect_refused(
        "跨层级: the township may not decide a county item",
        window.attempt(no, decide(true, "符合条件")),
    );
    let case = window.act(no, action("forward"))?;
    c.expect(
        "跨层级: forward without `to` goes up to the deciding level",
        &case["forwarded_to"],
        json!(XIANYOU),
    );
    fed.sync(no, &both)?;
    county.act(no, action("take_over"))?;
    county.act(no, action("review"))?;
    let materials_needed = json!(["残疾评定表"]);
    let case = county.act(
        no,
        json!({"action": "request_supplement", "materials": materials_needed, "reason": "需补交指定医院出具的残疾评定表"}),
    )?;
    c.expect(
        "跨层级: 补件 suspends the case (clock paused) with the materials requested",
        &json!([case["state"], case["requested"]]),
        json!(["suspended", materials_needed]),
    );
    fed.sync(no, &both)?;
    let case = window.act(
        no,
        json!({"action": "supplement", "materials": materials_needed}),
    )?;
    c.expect(
        "跨层级: the township window records the 补件 and the case resumes",
        &json!([case["state"], case["owner"], case["requested"]]),
        json!(["in_review", XIANYOU, []]),
    );
    fed.sync(no, &both)?;
    county.act(no, decide(true, "经评定符合残疾人证核发条件"))?;
    let case = county.act(no, action("forward"))?;
    c.expect(
        "跨层级: forward without `to` sends the decided case back to the accepting window",
        &case["forwarded_to"],
        json!(FENGTING),
    );
    fed.sync(no, &both)?;
    window.act(no, action("take_over"))?;
    window.act(
        no,
        json!({"action": "certify", "certificate_no": "35032219650312456X42"}),
    )?;
    let case = window.act(no, action("deliver"))?;
    c.expect(
        "跨层级: certified and delivered at the township window",
        &json!([case["state"], case["owner"], case["certificate_no"]]),
        json!(["delivered", FENGTING, "35032219650312456X42"]),
    );
    flow("1. 跨层级受理 残疾人证核发", "跨层级", &case, &both)
}

/// 2. 上报件: first review at the county, decision at the city, delivery at the county.
fn report_up(fed: &Federation, c: &mut Checks) -> Result<Flow> {
    heading("2. 上报件: 林木采伐许可证 pre-reviewed (初审) at 仙游县, decided at 莆田市");
    let county = fed.desk(XIANYOU, "郭审核", "林业局")?;
    let city = fed.desk(CITY, "市林业局审批员", "林业局")?;
    let case = county.submit_complete(
        "000176006000",
        org("仙游县度尾镇林业专业合作社", "93350322MA2XN0005")?,
    )?;
    let no = case_no(&case)?;
    let both = [XIANYOU, CITY];
    let case = county.act(no, action("review"))?;
    c.expect(
        "上报件: 初审 due in 20 working days, green, not reported yet",
        &json!([
            case["first_review_due"],
            case["first_review_warning"],
            case["reported_on"]
        ]),
        json!(["2025-11-04", "green", null]),
    );
    c.expect_refused(
        "上报件: the county may not decide a city-level item",
        county.attempt(no, decide(true, "符合条件")),
    );
    let case = county.act(no, action("forward"))?;
    c.expect(
        "上报件: forward without `to` reports up to the city, 初审 done in time",
        &json!([
            case["forwarded_to"],
            case["reported_on"],
            case["first_review_warning"]
        ]),
        json!([CITY, "2025-09-30", "green"]),
    );
    fed.sync(no, &both)?;
    city.act(no, action("take_over"))?;
    city.act(no, action("review"))?;
    let case = city.act(no, decide(true, "在年度采伐限额内，伐区设计合格"))?;
    c.expect(
        "上报件: decided at the city",
        &json!([case["state"], case["owner"]]),
        json!(["approved", CITY]),
    );
    let case = city.act(no, action("forward"))?;
    c.expect(
        "上报件: forward without `to` sends the decision back to the county",
        &case["forwarded_to"],
        json!(XIANYOU),
    );
    fed.sync(no, &both)?;
    county.act(no, action("take_over"))?;
    let case = county.act(no, action("deliver"))?;
    c.expect(
        "上报件: delivered at the county",
        &json!([case["state"], case["owner"]]),
        json!(["delivered", XIANYOU]),
    );
    flow("2. 上报件 林木采伐许可证核发", "上报件", &case, &both)
}

/// 3. 退回: the county returns a township's case; the township takes it back.
fn returned(fed: &Federation, c: &mut Checks) -> Result<Flow> {
    heading("3. 退回: 龙桥街道 forwards a 临时占用城市道路 application, 城厢区 returns it");
    let window = fed.desk(LONGQIAO, "吴窗口", "城市管理局")?;
    let county = fed.desk(CHENGXIANG, "陈审核", "城市管理局")?;
    let no = &fed.hand_over(
        &window,
        &county,
        "000179005000",
        org("莆田市城厢区鸿达市政工程有限公司", "91350302MA2XN0006")?,
    )?;
    let both = [LONGQIAO, CHENGXIANG];
    let case = county.act(
        no,
        json!({"action": "return", "reason": "占道施工方案缺少交通疏导方案，退回窗口告知申请人"}),
    )?;
    c.expect(
        "退回: the return goes back to the township",
        &json!([case["state"], case["forwarded_to"]]),
        json!(["in_transit", LONGQIAO]),
    );
    fed.sync(no, &both)?;
    let case = window.act(no, action("take_over"))?;
    c.expect(
        "退回: the township owns the case again",
        &json!([case["state"], case["owner"]]),
        json!(["accepted", LONGQIAO]),
    );
    let case = window.act(no, action("withdraw"))?;
    c.expect(
        "退回: the applicant withdraws to apply again with a 交通疏导方案",
        &case["state"],
        json!("withdrawn"),
    );
    flow("3. 退回 临时占用城市道路审批", "退回", &case, &both)
}

/// 4. A withdrawal at the township and a decision at the county, sent at the same instant.
fn race(fed: &Federation, c: &mut Checks) -> Result<Flow> {
    heading("4. 同时操作: 枫亭镇 records a withdrawal while 仙游县 decides");
    let window = fed.desk(FENGTING, "李窗口", "城市管理局")?;
    let county = fed.desk(XIANYOU, "王审核", "城市管理局")?;
    let no = &fed.hand_over(
        &window,
        &county,
        "000179002000",
        org("仙游县枫亭镇天一广告有限公司", "91350322MA2XN0007")?,
    )?;
    let both = [FENGTING, XIANYOU];
    county.act(no, action("review"))?;
    fed.sync(no, &both)?;
    let (withdrew, decided) = at_once(
        || window.attempt(no, action("withdraw")),
        || county.attempt(no, decide(true, "设置位置符合户外广告专项规划")),
    )?;
    let views = fed.converge(no, &both)?;
    judge_race(c, &views, &withdrew, &decided);
    let view = views[0].1.clone().unwrap_or_default();
    flow("4. 同时操作 户外广告设施设置许可", "并发", &view, &both)
}

/// Runs `a` and `b` on two threads released by one barrier, so both requests are in flight
/// together and neither node has seen the other's event when it checks its own.
fn at_once<A, B>(a: A, b: B) -> Result<(Result<Value>, Result<Value>)>
where
    A: FnOnce() -> Result<Value> + Send,
    B: FnOnce() -> Result<Value> + Send,
{
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            barrier.wait();
            a()
        });
        let second = s.spawn(|| {
            barrier.wait();
            b()
        });
        let a = first
            .join()
            .map_err(|_| anyhow!("the withdrawing thread panicked"))?;
        let b = second
            .join()
            .map_err(|_| anyhow!("the deciding thread panicked"))?;
        Ok((a, b))
    })
}

/// Exactly one of the two racing actions takes effect, the same on both nodes. Normally both
/// were acknowledged and the fold (ordered by hybrid clock) rejects the later one; if one node
/// had already received the other's event, its API refused the action and stored nothing.
fn judge_race(c: &mut Checks, views: &Views, withdrew: &Result<Value>, decided: &Result<Value>) {
    let view = views
        .first()
        .and_then(|(_, v)| v.clone())
        .unwrap_or_default();
    let outcome = |action: &str| {
        view["events"]
            .as_array()
            .and_then(|es| es.iter().find(|e| e["action"] == action))
            .map(|e| e.get("rejected").is_none())
    };
    let (w, d) = (outcome("withdraw"), outcome("decide"));
    for (what, o, answer) in [
        ("withdraw at 枫亭镇", w, withdrew),
        ("decide at 仙游县", d, decided),
    ] {
        let text = match (o, answer) {
            (Some(true), _) => "acknowledged, took effect".to_string(),
            (Some(false), _) => "acknowledged, rejected in the fold (it came second)".to_string(),
            (None, Err(e)) => format!("refused by its node's API: {e}"),
            (None, Ok(_)) => "acknowledged but missing from the history".to_string(),
        };
        println!("  {what}: {text}");
    }
    let effective = [w, d].iter().filter(|o| **o == Some(true)).count();
    c.expect(
        "并发: exactly one of withdraw and decide takes effect",
        &json!(effective),
        json!(1),
    );
    if withdrew.is_ok() && decided.is_ok() {
        let rejected = [w, d].iter().filter(|o| **o == Some(false)).count();
        c.expect(
            "并发: both acknowledged, exactly one event is marked rejected",
            &json!(rejected),
            json!(1),
        );
    }
    let winner = if w == Some(true) {
        "withdrawn"
    } else {
        "approved"
    };
    c.expect(
        "并发: the state is the winner's",
        &view["state"],
        json!(winner),
    );
}

/// Workflow 5 up to the time jump: opened by the county, answered by the city (agrees) and
/// the county's civil air defence office (disagrees); the township does not answer.
fn open_joint_review(fed: &Federation, c: &mut Checks) -> Result<Joint> {
    heading(
        "5. 市县联动联审: 建设工程竣工联合验收 owned by 仙游县, seats at 莆田市, 仙游县 and 枫亭镇",
    );
    let lead = fed.desk(XIANYOU, "蔡窗口", "住房和城乡建设局")?;
    let case = lead.submit_complete(
        "000172023000",
        org("仙游县城市建设投资集团有限公司", "91350322MA2XN0002")?,
    )?;
    let no = case_no(&case)?;
    let all = [XIANYOU, CITY, FENGTING];
    lead.act(no, action("review"))?;
    let seats = json!([
        {"node": CITY, "department": "自然资源和规划局"},
        {"node": XIANYOU, "department": "人民防空办公室"},
        {"node": FENGTING, "department": "村镇建设服务中心"},
    ]);
    let case = lead.act(
        no,
        json!({"action": "open_joint_review", "participants": seats, "feedback_days": 3}),
    )?;
    c.expect(
        "联审: feedback due in 3 working days (Sat Oct 11 is a 调休 working day)",
        &case["feedback_due"],
        json!("2025-10-11"),
    );
    fed.sync(no, &all)?;
    c.expect_refused(
        "联审: no decision before every opinion",
        lead.attempt(no, decide(true, "验收合格")),
    );
    let outsider = fed.desk(CITY, "市林业局审查员", "林业局")?;
    c.expect_refused(
        "联审: a department without a seat may not give an opinion",
        outsider.attempt(
            no,
            json!({"action": "opinion", "agree": true, "comment": "同意"}),
        ),
    );
    let planner = fed.desk(CITY, "市规划审查员", "自然资源和规划局")?;
    planner.act(
        no,
        json!({"action": "opinion", "agree": true, "comment": "规划条件核实合格"}),
    )?;
    let civil = fed.desk(XIANYOU, "人防审查员", "人民防空办公室")?;
    civil.act(
        no,
        json!({"action": "opinion", "agree": false, "comment": "人防工程竣工资料未附"}),
    )?;
    fed.sync(no, &all)?;
    println!("  (枫亭镇 村镇建设服务中心 does not answer before the time jump)");
    Ok(Joint {
        flow: flow("5. 市县联动联审 建设工程竣工联合验收", "联审", &case, &all)?,
        lead,
        late: fed.desk(FENGTING, "村建审查员", "村镇建设服务中心")?,
    })
}

/// Workflow 5 after the jump: the late seat is red in the owner's and its own view; it answers; the
/// owner overrides the disagreement on the record; every participant sees the decision.
fn close_joint_review(fed: &Federation, joint: &Joint, c: &mut Checks) -> Result<()> {
    heading("5. 市县联动联审, three weeks later");
    let no = joint.flow.case_no.as_str();
    let all = &joint.flow.involved;
    let views = fed.sync(no, all)?;
    for (node, view) in views.iter().filter(|(n, _)| n == XIANYOU || n == FENGTING) {
        let view = view.clone().unwrap_or_default();
        c.expect(
            &format!(
                "联审: 枫亭镇's seat is late (red) in {}'s view",
                label(node)
            ),
            &json!([seat(&view, FENGTING)["feedback"], view["feedback_warning"]]),
            json!(["red", "red"]),
        );
    }
    let owner = views[0].1.clone().unwrap_or_default();
    c.expect(
        "联审: the seats that answered in time stay green",
        &json!([
            seat(&owner, CITY)["feedback"],
            seat(&owner, XIANYOU)["feedback"]
        ]),
        json!(["green", "green"]),
    );
    joint.late.act(
        no,
        json!({"action": "opinion", "agree": true, "comment": "同意，场地已清理"}),
    )?;
    fed.sync(no, all)?;
    c.expect_refused(
        "联审: approval over a disagreement needs an override reason",
        joint.lead.attempt(no, decide(true, "验收合格")),
    );
    joint.lead.act(
        no,
        json!({"action": "decide", "approve": true, "reason": "验收合格", "override_reason": "人防工程竣工资料已于联审会后补齐"}),
    )?;
    joint.lead.act(no, action("deliver"))?;
    let views = fed.converge(no, all)?;
    for (node, view) in &views {
        let view = view.clone().unwrap_or_default();
        c.expect(
            &format!("联审: the decision reaches {}", label(node)),
            &json!([
                view["state"],
                view["decision"]["approve"],
                seat(&view, FENGTING)["feedback"]
            ]),
            json!(["delivered", true, "red"]),
        );
    }
    c.expect(
        "联审: concluded after its deadline (Oct 16) because of the late seat: red",
        &json!([
            owner["deadline"],
            views[0].1.as_ref().map(|v| v["warning"].clone())
        ]),
        json!(["2025-10-16", "red"]),
    );
    Ok(())
}

/// The joint-review seat of `node` in a case view.
fn seat(view: &Value, node: &str) -> Value {
    view["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["node"] == node))
        .cloned()
        .unwrap_or_default()
}

/// The city's consolidated view (电子监察): a summary of every case below it, which must agree
/// with the case's owner on state and owner.
pub fn city_view(fed: &Federation, case_nos: &[String], c: &mut Checks) -> Result<()> {
    println!("\n== 莆田市's consolidated view: GET /api/v1/summaries at {CITY} ==");
    let (summaries, owners) = settled_summaries(fed, case_nos)?;
    let names = item_names(fed)?;
    timeline::print_summaries(&summaries, |code| {
        names.get(code).cloned().unwrap_or_default()
    });
    let held: Vec<&str> = case_nos
        .iter()
        .filter(|no| summaries.iter().any(|s| s["case_no"] == no.as_str()))
        .map(String::as_str)
        .collect();
    c.expect(
        "市级汇总: the city holds a summary of every case below it",
        &json!(held.len()),
        json!(case_nos.len()),
    );
    let disagreeing: Vec<&Value> = summaries
        .iter()
        .filter(|s| !agrees_with_owner(s, &owners))
        .map(|s| &s["case_no"])
        .collect();
    c.expect(
        "市级汇总: every summary has its owner's state",
        &json!(disagreeing),
        json!([]),
    );
    note_stale_warnings(&summaries, &owners);
    Ok(())
}

/// The city's summaries once they agree with every owner (or after the wait), sorted by case
/// number, with each case as its owner now sees it.
fn settled_summaries(
    fed: &Federation,
    case_nos: &[String],
) -> Result<(Vec<Value>, BTreeMap<String, Value>)> {
    let start = Instant::now();
    loop {
        let answer = fed.admin(CITY)?.get("/api/v1/summaries")?;
        let mut summaries: Vec<Value> = answer["summaries"].as_array().cloned().unwrap_or_default();
        summaries.sort_by(|a, b| a["case_no"].as_str().cmp(&b["case_no"].as_str()));
        let mut owners = BTreeMap::new();
        for s in &summaries {
            let (no, owner) = (text(&s["case_no"]), text(&s["owner"]));
            if let Some(view) = fed.case_on(owner, no)? {
                owners.insert(no.to_string(), view);
            }
        }
        let complete = case_nos
            .iter()
            .all(|no| summaries.iter().any(|s| s["case_no"] == no.as_str()));
        let agree = summaries.iter().all(|s| agrees_with_owner(s, &owners));
        if (complete && agree) || start.elapsed() > Duration::from_secs(20) {
            return Ok((summaries, owners));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agrees_with_owner(summary: &Value, owners: &BTreeMap<String, Value>) -> bool {
    owners
        .get(text(&summary["case_no"]))
        .is_some_and(|v| v["state"] == summary["state"] && v["owner"] == summary["owner"])
}

/// A summary's warning is the owner's as of its last event; say where the owner's today differs.
fn note_stale_warnings(summaries: &[Value], owners: &BTreeMap<String, Value>) {
    for s in summaries {
        let Some(view) = owners.get(text(&s["case_no"])) else {
            continue;
        };
        if view["warning"] != s["warning"] {
            println!(
                "  note: {} is {} at its owner {} today; the city's summary still says {} (as of the owner's last event)",
                text(&s["case_no"]),
                text(&view["warning"]),
                label(text(&s["owner"])),
                text(&s["warning"])
            );
        }
    }
}

fn item_names(fed: &Federation) -> Result<BTreeMap<String, String>> {
    let catalog = fed.admin(CITY)?.get("/api/v1/catalog")?;
    catalog["items"]
        .as_array()
        .context("the catalog has no items")?
        .iter()
        .map(|i| Ok((text(&i["code"]).to_string(), text(&i["name"]).to_string())))
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}
