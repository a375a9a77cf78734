-- Call progress on answered campaign calls (issue 14): what answered, as the switch's
-- detectors told (person, machine, announcement, fax, silence), and the detail: a SIT
-- tone's name for an announcement, `beep` / `no_beep` for a machine. The target's
-- outcome then reads `machine`, `announcement`, `fax` or `silence` beside the earlier ones.
ALTER TABLE attempts ADD COLUMN detected text,
                     ADD COLUMN detected_kind text;
