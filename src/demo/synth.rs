//! Deterministic generators for the demo and benchmark data: a tiny PRNG, Chinese names,
//! mainland mobile numbers, resident ID numbers, employers, addresses and estates.
//!
//! Everything here is produced from a seed, so the same seed always yields the same
//! company; personal data is then parsed through the domain types, so nothing invalid
//! can reach the database.

use crate::app::people::ParsedPerson;
use chrono::{Datelike, NaiveDate};
use huiqian_domain::person::{IdDocument, IdKind, PersonName, Phone, check_digit};
use huiqian_domain::unit::{OccupantRelation, RoomNo, UnitStatus};
use std::collections::HashSet;

/// SplitMix64: small, fast and good enough for plausible data (not for secrets).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for `label`, so that adding data to one part of the demo
    /// does not shift every value generated after it.
    pub fn derive(seed: u64, label: &str) -> Rng {
        // FNV-1a of the label, mixed into the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut r = Rng(seed ^ h);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Biased towards the front of `xs` (the list is ordered by how common it is).
    pub fn pick_common<T: Copy>(&mut self, xs: &[T]) -> T {
        let u = self.below(1 << 20) as f64 / f64::from(1 << 20);
        xs[((u * u) * xs.len() as f64) as usize]
    }
}

/// Surnames, most common first (roughly the order of the national surname tables).
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆",
    "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛",
    "闫", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵", "万", "钱", "严", "武", "戴",
    "孔",
];
const COMPOUND_SURNAMES: &[&str] = &["欧阳", "司马", "上官", "诸葛", "东方"];

const MALE_CHARS: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫", "波", "宇",
    "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "建", "国", "志", "海", "东", "文", "峰", "晨", "博", "天",
    "振", "立", "德", "永", "成", "新", "庆", "松", "宏", "亮", "兵", "嘉", "泽", "睿", "航", "铭", "昊", "云", "思",
    "轩",
];
const FEMALE_CHARS: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "燕", "红", "萍", "婷", "雪", "琳", "洁", "梅", "慧",
    "颖", "倩", "莉", "兰", "英", "晶", "丹", "璐", "瑶", "怡", "欣", "佳", "雨", "思", "悦", "琪", "蕾", "薇", "月",
    "凤", "桂", "玉", "美", "淑", "晓", "雅", "文", "春", "涵",
];
/// Given names typical of people born in the 1950s and early 1960s.
const OLDER_MALE_NAMES: &[&str] =
    &["建国", "国庆", "建华", "建军", "卫东", "国强", "振华", "志强", "福生", "德明", "学军", "红旗"];
const OLDER_FEMALE_NAMES: &[&str] =
    &["秀英", "桂英", "淑珍", "玉兰", "秀兰", "桂兰", "凤英", "淑华", "素梅", "丽华", "玉珍", "建英"];

/// Mainland mobile prefixes in common use.
pub const MOBILE_PREFIXES: &[u64] = &[
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 170, 176, 177, 178,
    180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 198, 199,
];

/// Beijing district codes of resident ID numbers (东城, 西城, 朝阳, 丰台, 石景山, 海淀,
/// 房山, 通州, 顺义, 昌平, 大兴), most common first.
pub const BEIJING_REGIONS: &[&str] =
    &["110108", "110105", "110102", "110101", "110106", "110114", "110112", "110107", "110115", "110111", "110113"];

const EMPLOYER_NAMES: &[&str] = &[
    "华信", "博远", "恒通", "金桥", "瑞丰", "中联", "远景", "新源", "天诚", "鼎盛", "启明", "润泽", "汇智", "宏达",
    "卓越", "安泰", "京华", "明德",
];
const EMPLOYER_KINDS: &[&str] = &[
    "科技有限公司",
    "信息技术有限公司",
    "建设工程有限公司",
    "商贸有限公司",
    "文化传媒有限公司",
    "医疗器械有限公司",
    "投资管理有限公司",
    "律师事务所",
    "会计师事务所",
];
const INSTITUTIONS: &[&str] = &[
    "北京市海淀区教育委员会",
    "北京市朝阳区卫生健康委员会",
    "海淀区第二实验小学",
    "北京市第八十中学",
    "北京市海淀医院",
    "中国建设银行北京分行",
    "国家电网北京市电力公司",
    "北京地铁运营有限公司",
];
const DISTRICTS: &[&str] = &["海淀区", "朝阳区", "西城区", "东城区", "丰台区", "昌平区", "通州区"];
const STREETS: &[&str] = &[
    "学院路",
    "中关村大街",
    "知春路",
    "望京街",
    "安立路",
    "北四环西路",
    "花园路",
    "西直门外大街",
    "复兴路",
    "建国路",
    "清河中街",
    "双井东路",
];

/// A person's sex, which shows in their given name and in their ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn random(rng: &mut Rng) -> Sex {
        if rng.chance(500) { Sex::Male } else { Sex::Female }
    }
}

pub fn surname(rng: &mut Rng) -> &'static str {
    if rng.chance(3) { rng.pick(COMPOUND_SURNAMES) } else { rng.pick_common(SURNAMES) }
}

/// A given name of one or two characters, in the style of the birth year.
pub fn given_name(rng: &mut Rng, sex: Sex, birth_year: i32) -> String {
    if birth_year < 1965 && rng.chance(450) {
        let pool = match sex {
            Sex::Male => OLDER_MALE_NAMES,
            Sex::Female => OLDER_FEMALE_NAMES,
        };
        return rng.pick(pool).to_string();
    }
    let pool = match sex {
        Sex::Male => MALE_CHARS,
        Sex::Female => FEMALE_CHARS,
    };
    if rng.chance(250) { rng.pick(pool).to_string() } else { format!("{}{}", rng.pick(pool), rng.pick(pool)) }
}

/// An 11-digit mainland mobile number.
pub fn mobile(rng: &mut Rng) -> String {
    let prefix = rng.pick(MOBILE_PREFIXES);
    format!("{prefix}{:08}", rng.below(100_000_000))
}

/// A birth date between 1950-01-01 and 1995-12-31.
pub fn birth_date(rng: &mut Rng) -> NaiveDate {
    let from = NaiveDate::from_ymd_opt(1950, 1, 1).expect("valid date");
    let to = NaiveDate::from_ymd_opt(1995, 12, 31).expect("valid date");
    let span = (to - from).num_days() as u64;
    from + chrono::Duration::days(rng.below(span + 1) as i64)
}

/// An 18-digit resident ID number registered in Beijing: region, birth date, a sequence
/// whose last digit is odd for men and even for women, and the GB 11643 check character.
pub fn resident_id(rng: &mut Rng, sex: Sex, born: NaiveDate) -> String {
    let region = rng.pick_common(BEIJING_REGIONS);
    let odd = rng.below(5) * 2 + 1;
    let sex_digit = match sex {
        Sex::Male => odd,
        Sex::Female => odd - 1,
    };
    let first17 =
        format!("{region}{:04}{:02}{:02}{:02}{sex_digit}", born.year(), born.month(), born.day(), rng.below(100));
    let check = check_digit(&first17).expect("17 digits");
    format!("{first17}{check}")
}

pub fn employer(rng: &mut Rng) -> String {
    if rng.chance(250) {
        rng.pick(INSTITUTIONS).to_string()
    } else {
        format!("北京{}{}", rng.pick(EMPLOYER_NAMES), rng.pick(EMPLOYER_KINDS))
    }
}

/// A contact address elsewhere in Beijing (owners who do not live in their unit).
pub fn address(rng: &mut Rng) -> String {
    format!(
        "北京市{}{}{}号院{}号楼{}{:02}",
        rng.pick(DISTRICTS),
        rng.pick(STREETS),
        rng.range(1, 120),
        rng.range(1, 16),
        rng.range(1, 24),
        rng.range(1, 4)
    )
}

/// How complete a generated person's record is, in per mille.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub phone: u64,
    pub id: u64,
    pub employer: u64,
    pub address: u64,
}

impl Profile {
    pub fn for_relation(rel: OccupantRelation, lives_there: bool) -> Profile {
        match rel {
            OccupantRelation::Owner => {
                Profile { phone: 1000, id: 950, employer: 450, address: if lives_there { 100 } else { 850 } }
            }
            OccupantRelation::Tenant => Profile { phone: 1000, id: 900, employer: 600, address: 200 },
            OccupantRelation::Family => Profile { phone: 850, id: 700, employer: 250, address: 0 },
            OccupantRelation::Agent => Profile { phone: 1000, id: 1000, employer: 300, address: 700 },
        }
    }
}

/// Makes people with unique phone and ID numbers, parsed through the domain types.
pub struct PersonFactory {
    today: NaiveDate,
    phones: HashSet<String>,
    ids: HashSet<String>,
}

impl PersonFactory {
    pub fn new(today: NaiveDate) -> PersonFactory {
        PersonFactory { today, phones: HashSet::new(), ids: HashSet::new() }
    }

    fn unique_mobile(&mut self, rng: &mut Rng) -> String {
        loop {
            let m = mobile(rng);
            if self.phones.insert(m.clone()) {
                return m;
            }
        }
    }

    fn unique_id(&mut self, rng: &mut Rng, sex: Sex, born: NaiveDate) -> String {
        loop {
            let id = resident_id(rng, sex, born);
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }

    /// A person; `family_name` gives them a surname (a child of the owner, say).
    pub fn person(&mut self, rng: &mut Rng, profile: Profile, family_name: Option<&str>) -> ParsedPerson {
        let sex = Sex::random(rng);
        let born = birth_date(rng);
        let surname = family_name.unwrap_or_else(|| surname(rng)).to_string();
        let name = format!("{surname}{}", given_name(rng, sex, born.year()));
        let phone = rng.chance(profile.phone).then(|| self.unique_mobile(rng));
        let id = rng.chance(profile.id).then(|| self.unique_id(rng, sex, born));
        let employer = if rng.chance(profile.employer) { employer(rng) } else { String::new() };
        let address = if rng.chance(profile.address) { address(rng) } else { String::new() };
        ParsedPerson {
            name: PersonName::parse(&name).expect("generated names are valid"),
            phone: phone.map(|p| Phone::parse_mobile(&p).expect("generated mobiles are valid")),
            id: id.map(|n| {
                IdDocument::parse(IdKind::ResidentIdCard, &n, self.today).expect("generated ID numbers are valid")
            }),
            employer,
            address,
            note: String::new(),
        }
    }
}

/// The shape of an estate: identical buildings of `floors` × `entrances` × `per_floor`
/// units, with floor plans (areas in hundredths of m²) chosen per building.
#[derive(Debug, Clone, Copy)]
pub struct Estate {
    pub buildings: u32,
    pub floors: u32,
    pub entrances: u32,
    pub per_floor: u32,
    /// Areas of the first unit on each landing (the larger plans).
    pub large: &'static [i64],
    /// Areas of the other units.
    pub small: &'static [i64],
    /// Stop after this many units (the last building is then partly filled).
    pub max_units: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct BuildingPlan {
    pub code: String,
    pub name: String,
    pub floors: i64,
}

#[derive(Debug, Clone)]
pub struct UnitPlan {
    /// Index into the plan's buildings.
    pub building: usize,
    pub room: RoomNo,
    pub floor: i64,
    pub area_centi: i64,
    pub status: UnitStatus,
}

/// A unit's status: mostly lived in, some empty, a few being renovated.
pub fn unit_status(rng: &mut Rng) -> UnitStatus {
    match rng.below(1000) {
        0..=849 => UnitStatus::Occupied,
        850..=959 => UnitStatus::Vacant,
        _ => UnitStatus::Renovating,
    }
}

/// Buildings and units of an estate. Room numbers are building-entrance-room with
/// room = floor × 100 + n (`3-2-1502`).
pub fn estate(rng: &mut Rng, e: &Estate) -> (Vec<BuildingPlan>, Vec<UnitPlan>) {
    let mut buildings = Vec::new();
    let mut units = Vec::new();
    let full = |units: &Vec<UnitPlan>| e.max_units.is_some_and(|m| units.len() >= m);
    for b in 1..=e.buildings {
        if full(&units) {
            break;
        }
        let plans: Vec<i64> = (1..=e.per_floor).map(|n| rng.pick(if n == 1 { e.large } else { e.small })).collect();
        let bi = buildings.len();
        buildings.push(BuildingPlan { code: b.to_string(), name: format!("{b}号楼"), floors: i64::from(e.floors) });
        'building: for entrance in 1..=e.entrances {
            for floor in 1..=e.floors {
                for n in 1..=e.per_floor {
                    if full(&units) {
                        break 'building;
                    }
                    let text = format!("{b}-{entrance}-{}", floor * 100 + n);
                    units.push(UnitPlan {
                        building: bi,
                        room: RoomNo::parse(&text).expect("generated room numbers are valid"),
                        floor: i64::from(floor),
                        area_centi: plans[(n - 1) as usize],
                        status: unit_status(rng),
                    });
                }
            }
        }
    }
    (buildings, units)
}

/// Who is linked to which unit, by index into the plan's units and persons.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub unit: usize,
    pub person: usize,
    pub relation: OccupantRelation,
}

/// A community's generated contents, ready to be sealed and inserted.
#[derive(Default)]
pub struct Plan {
    pub buildings: Vec<BuildingPlan>,
    pub units: Vec<UnitPlan>,
    pub persons: Vec<ParsedPerson>,
    pub links: Vec<Link>,
}

impl Plan {
    pub fn count(&self, rel: OccupantRelation) -> usize {
        self.links.iter().filter(|l| l.relation == rel).count()
    }

    fn add(&mut self, unit: usize, p: ParsedPerson, relation: OccupantRelation) -> usize {
        self.persons.push(p);
        let person = self.persons.len() - 1;
        self.links.push(Link { unit, person, relation });
        person
    }

    fn surname_of(&self, person: usize) -> String {
        self.persons[person].name.as_str().chars().take(1).collect()
    }
}

/// The demo's residents: every unit has an owner (a few own two), lived-in units have
/// family members or tenants, and some owners have authorised an agent.
pub fn demo_residents(rng: &mut Rng, f: &mut PersonFactory, plan: &mut Plan) {
    use OccupantRelation::*;
    let mut owners: Vec<usize> = Vec::new();
    for u in 0..plan.units.len() {
        let status = plan.units[u].status;
        let rented = status == UnitStatus::Occupied && rng.chance(120);
        let lives_there = status == UnitStatus::Occupied && !rented;
        let owner = if owners.len() > 10 && rng.chance(30) {
            // An owner of a second unit.
            let o = rng.pick(&owners);
            plan.links.push(Link { unit: u, person: o, relation: Owner });
            o
        } else {
            let p = f.person(rng, Profile::for_relation(Owner, lives_there), None);
            let o = plan.add(u, p, Owner);
            owners.push(o);
            o
        };
        if rented {
            let n = if rng.chance(300) { 2 } else { 1 };
            for _ in 0..n {
                let p = f.person(rng, Profile::for_relation(Tenant, true), None);
                plan.add(u, p, Tenant);
            }
        } else if lives_there {
            let n = match rng.below(100) {
                0..=34 => 0,
                35..=79 => 1,
                _ => 2,
            };
            for i in 0..n {
                // A spouse, then a grown child with the owner's surname.
                let family_name = (i > 0 || rng.chance(300)).then(|| plan.surname_of(owner));
                let p = f.person(rng, Profile::for_relation(Family, true), family_name.as_deref());
                plan.add(u, p, Family);
            }
        }
        let agent_chance = match status {
            UnitStatus::Renovating => 150,
            UnitStatus::Vacant => 30,
            UnitStatus::Occupied => 10,
        };
        if rng.chance(agent_chance) {
            let p = f.person(rng, Profile::for_relation(Agent, false), None);
            plan.add(u, p, Agent);
        }
    }
}

/// Benchmark residents: exactly `residents` people, one owner per unit first, then
/// family members, tenants and agents spread over the units.
pub fn bench_residents(rng: &mut Rng, f: &mut PersonFactory, plan: &mut Plan, residents: usize) {
    use OccupantRelation::*;
    let units = plan.units.len();
    for u in 0..units.min(residents) {
        let lives_there = plan.units[u].status == UnitStatus::Occupied;
        let p = f.person(rng, Profile::for_relation(Owner, lives_there), None);
        plan.add(u, p, Owner);
    }
    if units == 0 {
        return;
    }
    while plan.persons.len() < residents {
        let u = rng.below(units as u64) as usize;
        let rel = match rng.below(100) {
            0..=69 => Family,
            70..=94 => Tenant,
            _ => Agent,
        };
        let p = f.person(rng, Profile::for_relation(rel, rel != Agent), None);
        plan.add(u, p, rel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        let mut x = Rng::derive(7, "HY");
        let mut y = Rng::derive(7, "HY");
        let mut z = Rng::derive(7, "LY");
        let (vx, vy, vz) = (x.next_u64(), y.next_u64(), z.next_u64());
        assert_eq!(vx, vy);
        assert_ne!(vx, vz);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(1);
        for n in [1, 2, 3, 10, 1000] {
            assert!((0..10_000).all(|_| r.below(n) < n));
        }
    }

    #[test]
    fn generated_ids_are_valid_and_tell_the_sex() {
        let mut r = Rng::new(42);
        let today = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        for _ in 0..5000 {
            let sex = Sex::random(&mut r);
            let born = birth_date(&mut r);
            assert!((1950..=1995).contains(&born.year()));
            let id = resident_id(&mut r, sex, born);
            let doc = IdDocument::parse(IdKind::ResidentIdCard, &id, today).unwrap();
            assert_eq!(doc.birth_date(), Some(born));
            assert!(BEIJING_REGIONS.contains(&&id[..6]));
            let odd = (id.as_bytes()[16] - b'0') % 2 == 1;
            assert_eq!(odd, sex == Sex::Male, "{id}");
        }
    }

    #[test]
    fn generated_mobiles_are_valid() {
        let mut r = Rng::new(43);
        for _ in 0..5000 {
            let m = mobile(&mut r);
            assert_eq!(m.len(), 11);
            assert!(MOBILE_PREFIXES.contains(&m[..3].parse().unwrap()));
            Phone::parse_mobile(&m).unwrap();
        }
    }

    #[test]
    fn generated_names_parse() {
        let mut r = Rng::new(44);
        for _ in 0..5000 {
            let sex = Sex::random(&mut r);
            let n = format!("{}{}", surname(&mut r), given_name(&mut r, sex, 1960));
            let chars = n.chars().count();
            assert!((2..=4).contains(&chars), "{n}");
            PersonName::parse(&n).unwrap();
        }
    }

    #[test]
    fn estate_room_numbers_follow_floor_and_landing() {
        let mut r = Rng::new(45);
        let e = Estate {
            buildings: 2,
            floors: 18,
            entrances: 2,
            per_floor: 2,
            large: &[12030],
            small: &[8950],
            max_units: None,
        };
        let (b, u) = estate(&mut r, &e);
        assert_eq!(b.len(), 2);
        assert_eq!(u.len(), 2 * 18 * 2 * 2);
        let u1502 = u.iter().find(|x| x.room.as_str() == "2-2-1502").unwrap();
        assert_eq!((u1502.floor, u1502.area_centi), (15, 8950));
        let limited = estate(&mut r, &Estate { max_units: Some(100), ..e });
        assert_eq!(limited.1.len(), 100);
        assert_eq!(limited.0.len(), 2);
    }

    #[test]
    fn bench_residents_hits_the_exact_count() {
        let mut r = Rng::new(46);
        let mut f = PersonFactory::new(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        let mut plan = Plan::default();
        let e = Estate {
            buildings: 1,
            floors: 6,
            entrances: 2,
            per_floor: 2,
            large: &[9245],
            small: &[6820],
            max_units: None,
        };
        (plan.buildings, plan.units) = estate(&mut r, &e);
        bench_residents(&mut r, &mut f, &mut plan, 61);
        assert_eq!(plan.persons.len(), 61);
        assert_eq!(plan.count(OccupantRelation::Owner), 24);
    }
}
