#include "systems/casework.h"

#include <array>

namespace cb::sim::detail {

namespace {

using namespace std::chrono;

struct Code {
  const char* token;
  std::array<const char*, 2> words;  // the second may be null
};

Coded coded(SeededRandom& r, const Code& c) {
  const char* w = (c.words[1] != nullptr && r.oneIn(2)) ? c.words[1] : c.words[0];
  return {c.token, w};
}
template <class Table>
Coded drawCode(SeededRandom& r, const Table& t) {
  return coded(r, r.pick(t));
}

// Wordings from mappings/rio/codes and mappings/mosaic/codes (they share the
// SAC lists), keyed by the canonical token of mappings/canonical/canonical.xsd.
constexpr std::array<Code, 11> kRiskTypes = {{
    {"physical-abuse", {"Physical Abuse", "Physical"}},
    {"sexual-abuse", {"Sexual Abuse", "Sexual"}},
    {"psychological-abuse", {"Psychological Abuse", "Psychological"}},
    {"financial-or-material-abuse", {"Financial or Material Abuse", "Financial and Material"}},
    {"discriminatory-abuse", {"Discriminatory Abuse", "Discriminatory"}},
    {"organisational-abuse", {"Organisational Abuse", "Organisational"}},
    {"neglect-and-acts-of-omission", {"Neglect and Acts of Omission", "Neglect and Omission"}},
    {"domestic-abuse", {"Domestic Abuse", nullptr}},
    {"sexual-exploitation", {"Sexual Exploitation", nullptr}},
    {"modern-slavery", {"Modern Slavery", nullptr}},
    {"self-neglect", {"Self-Neglect", nullptr}},
}};
constexpr std::array<Code, 9> kLocations = {{
    {"own-home", {"Own Home", nullptr}},
    {"in-the-community", {"In the community (excluding community services)", nullptr}},
    {"community-service", {"Community Service", "In a community service"}},
    {"care-home-residential", {"Care Home - residential", nullptr}},
    {"care-home-nursing", {"Care Home - nursing", nullptr}},
    {"hospital-acute", {"Hospital - Acute", nullptr}},
    {"hospital-mental-health", {"Hospital - Mental Health", nullptr}},
    {"hospital-community", {"Hospital - Community", nullptr}},
    {"other", {"Other", nullptr}},
}};
constexpr std::array<Code, 12> kSources = {{
    {"service-provider", {"Social Care Support or Service Provider - public sector", nullptr}},
    {"service-provider", {"Social Care Support or Service Provider - private sector", nullptr}},
    {"service-provider",
     {"Social Care Support or Service Provider - voluntary (voluntary /community organisations, charities etc.)",
      nullptr}},
    {"known-to-individual", {"Known to Individual - Relative / family / carer", nullptr}},
    {"known-to-individual", {"Known to Individual - Individual - known but not related", nullptr}},
    {"known-to-individual", {"Known to Individual - Self", nullptr}},
    {"known-to-individual", {"Known to Individual - Secondary health care", nullptr}},
    {"known-to-individual", {"Known to Individual - Social care staff - care management and assessment", nullptr}},
    {"known-to-individual", {"Other - Known to Individual", nullptr}},
    {"unknown-to-individual", {"Unknown to Individual - Individual - unknown / stranger", nullptr}},
    {"unknown-to-individual", {"Unknown to Individual - Other private sector", nullptr}},
    {"unknown-to-individual", {"Other - Unknown to Individual", nullptr}},
}};
constexpr std::array<Code, 7> kRiskOutcomes = {{
    {"risk-identified-action-taken", {"Risk identified and action taken", nullptr}},
    {"risk-identified-no-action-taken", {"Risk identified and no action taken", nullptr}},
    {"risk-assessment-inconclusive-action-taken", {"Risk - assessment inconclusive and action taken", nullptr}},
    {"risk-assessment-inconclusive-no-action-taken",
     {"Risk - assessment inconclusive and no action taken", nullptr}},
    {"no-risk-identified-action-taken", {"No risk identified and action taken", nullptr}},
    {"no-risk-identified-no-action-taken", {"No risk identified and no action taken", nullptr}},
    {"enquiry-ceased-at-individuals-request",
     {"Enquiry ceased at individual's request and no action taken", nullptr}},
}};
constexpr std::array<Code, 3> kRiskResults = {{
    {"risk-remains", {"Risk remains", "Risk remained"}},
    {"risk-reduced", {"Risk reduced", nullptr}},
    {"risk-removed", {"Risk removed", nullptr}},
}};
constexpr std::array<Code, 4> kSacAnswers = {{
    {"yes", {"Y", nullptr}}, {"no", {"N", nullptr}}, {"dont-know", {"DK", nullptr}}, {"not-recorded", {"NR", nullptr}}}};
constexpr std::array<Code, 3> kSupporters = {{
    {"independent-advocate", {"IA", nullptr}}, {"family-or-friend", {"FAM", nullptr}}, {"other", {"OTH", nullptr}}}};
constexpr std::array<Code, 3> kAchieved = {{
    {"fully-achieved", {"FULL", nullptr}}, {"partially-achieved", {"PART", nullptr}}, {"not-achieved", {"NOT", nullptr}}}};
constexpr std::array<Code, 3> kDecisions = {{
    {"section-42-enquiry", {"Section 42 Enquiry", "S42"}},
    {"other-enquiry", {"Other Enquiry", "Other"}},
    {"no-enquiry", {"No Enquiry", "NFA"}},
}};
constexpr std::array<Code, 3> kEligibility = {{
    {"eligible", {"Eligible", "Eligible Needs"}},
    {"not-eligible", {"Not Eligible", "No Eligible Needs"}},
    {"not-determined", {"Not Determined", "Pending"}},
}};
constexpr std::array<Code, 12> kSupportReasons = {{
    {"physical-access-and-mobility", {"Physical Support: Access & mobility only", nullptr}},
    {"physical-personal-care", {"Physical Support: Personal care support", nullptr}},
    {"sensory-visual", {"Sensory Support: Support for visual impairment", nullptr}},
    {"sensory-hearing", {"Sensory Support: Support for hearing impairment", nullptr}},
    {"memory-and-cognition", {"Support with Memory & Cognition", nullptr}},
    {"learning-disability", {"Learning Disability Support", nullptr}},
    {"mental-health", {"Mental Health Support", "Mental Health"}},
    {"mental-health", {"Mental Health Support", "Mental Health"}},
    {"mental-health", {"Mental Health Support", "Mental Health"}},
    {"substance-misuse", {"Social Support: Substance misuse support", nullptr}},
    {"social-isolation-other", {"Social Support: Support for Social Isolation/Other", nullptr}},
    {"support-to-carer", {"Social Support: Support to Carer", nullptr}},
}};
constexpr std::array<Code, 2> kReviewKinds = {{
    {"planned", {"Scheduled", "Planned"}}, {"unplanned", {"Unscheduled", "Unplanned"}}}};
// Council pick lists (mappings/{mosaic,las,ais}/codes/urgency.xml).
constexpr std::array<Code, 4> kUrgency = {{
    {"routine", {"Routine", nullptr}},
    {"routine", {"Routine", nullptr}},
    {"urgent", {"Urgent", nullptr}},
    {"emergency", {"Emergency", "Immediate"}},
}};

constexpr std::array kStaff = {"Sam Patel",   "Jo Bloggs",    "Alex Jones",   "Chris Green", "Morgan Reid",
                               "Taylor Quinn", "Jordan Ellis", "Robin Shah",  "Kim O'Neill", "Pat Adebayo"};
constexpr std::array kRoles = {"Social Worker", "Senior Practitioner", "Approved Mental Health Professional",
                               "Care Coordinator", "Occupational Therapist", "Community Psychiatric Nurse"};

struct Org {
  std::array<const char*, 3> teams;
  const char* ods;
};
Org orgOf(SeedSystem s) {
  switch (s) {
    case SeedSystem::Rio: return {{"Barking CMHT", "Dagenham CMHT", "Bromley CMHT"}, "RAT"};
    case SeedSystem::Carenotes:
      return {{"Worthing Assessment & Treatment Service", "Crawley CMHT", "Chichester Older Adults MHT"}, "RX2"};
    case SeedSystem::UkCore:
      return {{"Warwick Community Mental Health Team", "Nuneaton CMHT", "Leamington Older Adults Team"}, "RYG"};
    case SeedSystem::Mosaic:
      return {{"Worthing Locality Team", "Crawley Older Adults Mental Health Team", "Chichester Adult Social Care"},
              "00AF"};
    case SeedSystem::Las:
      return {{"Bromley Assessment and Liaison Team", "Bromley Hospital Discharge Team", "Bromley Front Door"},
              "00AF"};
    case SeedSystem::Ais:
      return {{"Barking and Dagenham CMHT", "Adult Social Care Front Door", "Reablement & Hospital Team"}, "00AB"};
  }
  return {{"Team", "Team", "Team"}, "X00"};
}

Practitioner practitioner(SeededRandom& r, SeedSystem s, const char* role = nullptr) {
  const Org o = orgOf(s);
  return {r.pick(kStaff), role != nullptr ? role : r.pick(kRoles), o.teams[r.below(3)], o.ods};
}

// Free text, written the way practitioners write it: quotes, ampersands,
// apostrophes, commas and semicolons included on purpose.
constexpr std::array kConcernText = {
    "Lodger reported to be taking his benefits & threatening him.",
    "Neighbour says the carer \"shouts at night\"; bruising seen on both forearms.",
    "Family member withdrew money from her account without asking (about <200 pounds>).",
    "Not eating, the flat is cold; refused the GP's home visit twice.",
    "Day centre staff noticed she's frightened of a visitor's partner.",
    "Care agency missed 4 calls in a week; pressure sore found by district nurse.",
};
constexpr std::array kActions = {"Bank informed; duty worker visit arranged.",
                                 "Safety plan agreed with him & his sister.",
                                 "Police informed (crime ref. held by the team); GP told.",
                                 "Agency manager asked to review the rota; daily welfare calls.",
                                 "None needed today: risk discussed with the adult, who said \"I'm fine\"."};
constexpr std::array kMspOutcomes = {"To feel safe at home",       "To manage my own money again",
                                     "To stay living with my son, but with help", "For the visits to stop",
                                     "To get back to the allotment & see friends", "To keep my dog"};
constexpr std::array kPlans = {"Protect finances.", "Reduce contact with the alleged source of risk; review in 4 weeks.",
                               "Increase care calls & check medication.", "Support to apply for a non-molestation order."};
constexpr std::array kPlanActions = {"Second signatory on the bank account.", "Refer to the advocacy service.",
                                     "Medication review with the GP & pharmacist.",
                                     "Housing officer to change the locks."};
constexpr std::array kClosures = {"Risk reduced; plan in place.", "Adult's outcomes met, no further action.",
                                  "Enquiry ceased at the adult's request; signposted.",
                                  "Risk removed: the lodger has moved out."};
constexpr std::array kNeeds = {"Needs prompting with meals, medication & managing the tenancy.",
                               "Needs help with personal care in the mornings; can't manage the stairs.",
                               "Needs support to go out; anxious in crowds and \"won't open the post\".",
                               "Needs a break from caring and help when her brother is unwell.",
                               "Needs someone to check on him daily, and help with shopping, cooking & cleaning."};
constexpr std::array kDesired = {"To keep her own flat", "To get back to the allotment", "To see my grandchildren",
                                 "To cook for myself again", "To go back to work part-time", "To feel less alone"};
constexpr std::array kAssessmentOutcomes = {"Progress to Support Planning / Services",
                                            "Universal Services / Signposted to other services",
                                            "No services provided - needs met by carer",
                                            "Short term support (reablement)", "Carer's direct payment for short breaks"};
constexpr std::array kReviewOutcomes = {"No change in Long Term Support", "Change in Long Term Support - increased",
                                        "Change in Long Term Support - decreased",
                                        "Move to nursing care (from community)", "Long Term Support ended"};
constexpr std::array kReferralSources = {"GP", "Self", "Family member", "Housing Officer", "Police",
                                         "Hospital discharge team", "Ambulance service", "Neighbour"};
constexpr std::array kReferralReasons = {
    "Increasing confusion and low mood; daughter worried she is not eating.",
    "Low mood, not managing personal care or the tenancy since discharge from hospital.",
    "Fall at home, 2nd this month; lives alone & reluctant to use the pendant alarm.",
    "Not eating, neglecting the flat; tenancy at risk.",
    "Carer (wife, 81) says she \"can't cope any more\" with his care at night.",
};
constexpr std::array kReferralOutcomes = {"Progress to Assessment", "Signposted to Universal Services",
                                          "No further action", "Progress to Short Term Support"};
constexpr std::array kRelationships = {"Brother", "Sister", "Daughter", "Son", "Wife", "Husband",
                                       "Mother", "Father", "Partner", "Friend", "Neighbour"};

std::vector<Coded> drawRisks(SeededRandom& r) {
  std::vector<Coded> risks;
  const int n = r.between(1, 3);
  for (int i = 0; i < n; ++i) {
    Coded c = drawCode(r, kRiskTypes);
    bool dup = false;
    for (const auto& x : risks) dup = dup || x.token == c.token;
    if (!dup) risks.push_back(c);
  }
  return risks;
}

}  // namespace

Practitioner drawPractitioner(SeededRandom& r, SeedSystem s) { return practitioner(r, s); }

LocalTime lastAmended(SeededRandom& r) {
  // A working-hours time on a day between January 2024 and late 2025:
  // far from the 01:00 clock changes, so every local time exists once.
  LocalTime t;
  t.day = sys_days{year{2024} / January / 1} + days{r.between(40, 40 + 640)};
  t.hour = r.between(8, 18);
  t.minute = r.between(0, 59);
  t.second = r.between(0, 59);
  return t;
}

Enquiry drawEnquiry(SeededRandom& r, SeedSystem s, const LocalTime& amended) {
  Enquiry e;
  e.type = r.oneIn(5) ? Coded{"other", "OTH"} : Coded{"section-42", "S42"};
  e.concern = amended.day - days{r.between(20, 60)};
  e.started = e.concern + days{r.between(0, 3)};
  e.risks = drawRisks(r);
  e.location = drawCode(r, kLocations);
  e.source = drawCode(r, kSources);
  e.has_outcome = !r.oneIn(4);
  e.outcome = drawCode(r, kRiskOutcomes);
  e.result = drawCode(r, kRiskResults);
  e.capacity_recorded = !r.oneIn(5);
  e.lacks_capacity = drawCode(r, kSacAnswers);
  e.capacity_assessed = e.started + days{r.between(1, 6)};
  e.advocacy = r.oneIn(2) ? Coded{"yes", "Y"} : Coded{"no", "N"};
  if (e.advocacy.token == "yes") e.advocacy_by = drawCode(r, kSupporters);
  const int asked = r.between(0, 9);
  e.msp_asked = asked < 6 ? Coded{"asked-outcomes-expressed", "Y-EXP"}
                : asked < 8 ? Coded{"asked-no-outcomes-expressed", "Y-NONE"}
                : asked < 9 ? Coded{"not-asked", "N"}
                            : Coded{"dont-know", "DK"};
  if (e.msp_asked.token == "asked-outcomes-expressed") {
    e.msp_outcomes.emplace_back(r.pick(kMspOutcomes));
    if (r.oneIn(3)) {
      std::string second = r.pick(kMspOutcomes);
      if (second != e.msp_outcomes.front()) e.msp_outcomes.push_back(second);
    }
  }
  e.manager = practitioner(r, s, "Safeguarding Adults Manager");
  e.officer = practitioner(r, s);
  e.plan_summary = r.pick(kPlans);
  e.action_what = r.pick(kPlanActions);
  e.action_who = r.oneIn(2) ? "Enquiry Officer" : "Care Coordinator";
  e.action_due = e.started + days{r.between(7, 21)};
  e.action_done = r.oneIn(2);
  e.reviewed = r.oneIn(2);
  e.review_date = e.started + days{r.between(14, 28)};
  e.review_notes = r.oneIn(2) ? "Finances protected." : "Plan working; adult says she feels \"much safer\".";
  e.closed = e.reviewed && e.has_outcome && r.oneIn(2);
  e.closed_date = e.review_date + days{r.between(1, 10)};
  e.closure_reason = r.pick(kClosures);
  if (e.closed && !e.msp_outcomes.empty()) e.msp_achieved = drawCode(r, kAchieved);
  return e;
}

Concern drawConcern(SeededRandom& r, SeedSystem s, const LocalTime& amended) {
  Concern c;
  c.received = amended.day - days{r.between(0, 3)};
  const Practitioner p = practitioner(r, s);
  c.raised_by = p.role + ", " + p.team;
  c.risks = drawRisks(r);
  c.location = drawCode(r, kLocations);
  c.source = drawCode(r, kSources);
  c.description = r.pick(kConcernText);
  c.immediate_actions = r.pick(kActions);
  c.decided = !r.oneIn(4);
  c.decision = drawCode(r, kDecisions);
  c.decision_date = c.received + days{r.between(0, 2)};
  return c;
}

Assessment drawAssessment(SeededRandom& r, SeedSystem s, const LocalTime& amended, bool carers) {
  Assessment a;
  a.started = amended.day - days{r.between(14, 40)};
  a.completed = !r.oneIn(4);
  a.completed_date = a.started + days{r.between(7, 14)};
  a.assessor = practitioner(r, s, carers ? "Carers Support Worker" : nullptr);
  a.support_reason = drawCode(r, kSupportReasons);
  a.needs = r.pick(kNeeds);
  const int n = r.between(1, 2);
  for (int i = 0; i < n; ++i) {
    std::string d = r.pick(kDesired);
    if (a.desired_outcomes.empty() || a.desired_outcomes.front() != d) a.desired_outcomes.push_back(d);
  }
  a.eligibility = drawCode(r, kEligibility);
  a.has_advocacy = !r.oneIn(3);
  a.advocacy = r.oneIn(2) ? Coded{"yes", "Y"} : Coded{"no", "N"};
  if (a.advocacy.token == "yes") a.advocacy_by = drawCode(r, kSupporters);
  a.carer_involved = r.oneIn(2);
  a.outcome = r.pick(kAssessmentOutcomes);
  a.relationship = r.pick(kRelationships);
  a.able_and_willing = !r.oneIn(4);
  return a;
}

Review drawReview(SeededRandom& r, SeedSystem s, const LocalTime& amended) {
  Review v;
  v.date = amended.day - days{r.between(0, 5)};
  v.next_due = v.date + days{r.oneIn(2) ? 182 : 365};
  v.kind = drawCode(r, kReviewKinds);
  v.reviewer = practitioner(r, s, r.oneIn(2) ? "Care Coordinator" : nullptr);
  v.outcome = r.pick(kReviewOutcomes);
  v.plan_changed = r.oneIn(3);
  return v;
}

Referral drawReferral(SeededRandom& r, SeedSystem s, const LocalTime& amended) {
  Referral f;
  f.received = amended;
  f.received.day = amended.day - days{r.between(0, 2)};
  f.received.hour = r.between(8, 18);
  f.source = r.pick(kReferralSources);
  f.reason = r.pick(kReferralReasons);
  f.urgency = drawCode(r, kUrgency);
  f.team = orgOf(s).teams[r.below(3)];
  f.has_outcome = !r.oneIn(4);
  f.outcome = r.pick(kReferralOutcomes);
  f.outcome_date = amended.day;
  return f;
}

NextOfKin drawNextOfKin(SeededRandom& r, const SyntheticPerson& p) {
  constexpr std::array kGiven = {"Ann", "Peter", "Joy", "Kwesi", "Maria", "Steve", "Leila", "Tom"};
  return {r.pick(kRelationships), r.pick(kGiven), r.oneIn(3) ? std::string("Clarke") : p.family,
          "07700 900" + std::to_string(r.between(100, 999))};
}

}  // namespace cb::sim::detail
