#pragma once
// An information-sharing agreement as plain text for the people who sign it
// off and review it (`carebridge agreement show`, the web page): parties,
// period in force with extensions and notice, flows with their records,
// purposes, lawful bases, items, consent, sensitive-category and hold rules.

#include "policy/agreement.h"

#include <string>

namespace cb::policy {

/// The agreement as readable text, one fact a line, ending with what is
/// refused by omission.
std::string agreementText(const Agreement& a);

}  // namespace cb::policy
