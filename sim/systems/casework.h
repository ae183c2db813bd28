#pragma once
// The content of a synthetic record before it is written in a system's
// format: dates, codes (as canonical tokens plus the wording a RiO or Mosaic
// export uses for them), practitioners and free text. Internal to
// sim/systems; records.cpp writes it out per system.

#include "systems/person.h"
#include "systems/random.h"
#include "systems/records.h"

#include <string>
#include <vector>

namespace cb::sim::detail {

/// A coded value: the canonical token (FHIR answers carry it) and the
/// wording a RiO or Mosaic export writes (one of the code tables' `from`s).
struct Coded {
  std::string token;
  std::string wording;
};

struct Practitioner {
  std::string name, role, team, ods;
};

struct Enquiry {
  Coded type;  ///< S42 / OTH
  std::chrono::sys_days concern, started;
  std::vector<Coded> risks;
  Coded location, source;  ///< source.wording is also the source-of-risk detail
  bool has_outcome = false;
  Coded outcome, result;
  bool capacity_recorded = false;
  Coded lacks_capacity;  ///< Y/N/DK/NR
  std::chrono::sys_days capacity_assessed;
  Coded advocacy, advocacy_by;  ///< advocacy_by.token empty when none
  Coded msp_asked;
  std::vector<std::string> msp_outcomes;
  Coded msp_achieved;  ///< token empty while open
  Practitioner manager, officer;
  std::string plan_summary, action_what, action_who;
  std::chrono::sys_days action_due;
  bool action_done = false;
  bool reviewed = false, closed = false;
  std::chrono::sys_days review_date, closed_date;
  std::string review_notes, closure_reason;
};

struct Concern {
  std::chrono::sys_days received;
  std::string raised_by;
  std::vector<Coded> risks;
  Coded location, source;
  std::string description, immediate_actions;
  bool decided = false;
  Coded decision;
  std::chrono::sys_days decision_date;
};

struct Assessment {  ///< Care Act s9 or carer's s10
  std::chrono::sys_days started;
  bool completed = false;
  std::chrono::sys_days completed_date;
  Practitioner assessor;
  Coded support_reason;
  std::string needs;
  std::vector<std::string> desired_outcomes;
  Coded eligibility;
  bool has_advocacy = false;
  Coded advocacy, advocacy_by;
  bool carer_involved = false;
  std::string outcome;
  // carer's assessment
  std::string relationship;
  bool able_and_willing = true;
};

struct Review {
  std::chrono::sys_days date, next_due;
  Coded kind;  ///< planned / unplanned
  Practitioner reviewer;
  std::string outcome;
  bool plan_changed = false;
};

struct Referral {
  LocalTime received;
  std::string source, reason;
  Coded urgency;  ///< wording in the council pick list (Routine, Urgent, ...)
  std::string team;
  bool has_outcome = false;
  std::string outcome;
  std::chrono::sys_days outcome_date;
};

/// The record's own time line: when it was last changed (working hours, UK local).
LocalTime lastAmended(SeededRandom& r);

Enquiry drawEnquiry(SeededRandom& r, SeedSystem s, const LocalTime& amended);
Concern drawConcern(SeededRandom& r, SeedSystem s, const LocalTime& amended);
Assessment drawAssessment(SeededRandom& r, SeedSystem s, const LocalTime& amended, bool carers);
Review drawReview(SeededRandom& r, SeedSystem s, const LocalTime& amended);
Referral drawReferral(SeededRandom& r, SeedSystem s, const LocalTime& amended);
/// A member of staff of the system's organisation (e.g. who recorded consent).
Practitioner drawPractitioner(SeededRandom& r, SeedSystem s);

/// A synthetic next of kin's relationship, given and family name and phone.
struct NextOfKin {
  std::string relationship, given, family, phone;
};
NextOfKin drawNextOfKin(SeededRandom& r, const SyntheticPerson& p);

}  // namespace cb::sim::detail
