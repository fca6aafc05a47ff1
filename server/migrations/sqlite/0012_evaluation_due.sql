-- When a reported result must have been evaluated (回访评价) by the desk; cleared by the
-- evaluation. A result left unevaluated past it is supervised like a missed reply or result,
-- and charged to the case's regions: a result nobody evaluates is never counted.
ALTER TABLE workflow_cases ADD COLUMN evaluation_due INTEGER;
