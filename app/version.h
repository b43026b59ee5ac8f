#pragma once
#include <string_view>
namespace burnrate {
inline constexpr std::string_view kVersion = BURNRATE_VERSION;
}
