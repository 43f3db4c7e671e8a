-- pandoc filter for the man pages (docs/man/manpages.py passes it): tables
-- take 90% of the width pandoc gives them, so that with tbl's gaps between
-- columns they fit an 80-column terminal without a warning.
function Table(t)
  for _, spec in ipairs(t.colspecs) do
    if type(spec[2]) == "number" then
      spec[2] = spec[2] * 0.9
    end
  end
  return t
end
