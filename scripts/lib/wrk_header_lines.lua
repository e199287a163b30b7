-- wrk script: every request carries one header whose value is the next line
-- of a file, so that each request can carry a value never sent before.
--
--   wrk -t<T> -s scripts/lib/wrk_header_lines.lua <url> -- <header name> <file prefix>
--
-- Thread i (1..T) reads <file prefix>.<i> from its first line. When a file
-- runs out, the thread starts it again and counts a reuse; the summary
-- ends with "header lines reused: <n>", which must be 0 for the run to have
-- sent only new values.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads)
end

function init(args)
	name = args[1]
	file = assert(io.open(args[2] .. "." .. id, "r"))
	reused = 0
end

function request()
	local line = file:read("*l")
	if line == nil then
		reused = reused + 1
		file:seek("set", 0)
		line = file:read("*l")
	end
	return wrk.format(nil, nil, { [name] = line })
end

function done(summary, latency, requests)
	local n = 0
	for _, thread in ipairs(threads) do
		n = n + thread:get("reused")
	end
	io.write(string.format("header lines reused: %d\n", n))
end
