# Shared compile settings for every carebridge target: warnings and hardening.
# Applied per target (never globally) so third-party code is not affected.

function(cb_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wcast-align -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
    $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)
  if(CAREBRIDGE_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # Hardening as Debian builds packages (dpkg-buildflags), plus full RELRO.
  target_compile_options(${target} PRIVATE -fstack-protector-strong -fstack-clash-protection)
  target_link_options(${target} PRIVATE -Wl,-z,relro,-z,now)
  if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT CB_SANITIZE)
    target_compile_definitions(${target} PRIVATE _FORTIFY_SOURCE=2)
  endif()
endfunction()

# C-only targets (the plugin ABI header is checked as C too).
function(cb_c_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(CAREBRIDGE_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Where the sanitizer preset asks for it, instrument everything we build.
if(CB_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
