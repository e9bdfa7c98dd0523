-- luacheck configuration: `make lint` must stay clean.
std = "lua54"
max_line_length = 100
exclude_files = { "build/**", "build-*/**", ".luarocks/**", "lua_modules/**" }

-- Specs run inside busted: describe/it/assert/spy/... are globals there.
files["spec/**/*.lua"] = { std = "+busted" }
files[".busted"] = { std = "lua54" }
