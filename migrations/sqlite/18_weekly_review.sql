-- The weekly statistics table goes to the centre director with the customer-service
-- manager's written analysis, and the director's acknowledgement is kept (R-CMP-8:
-- "每周将业主/住户诉求进行统计分析填写业主/住户诉求统计表报中心主任").
ALTER TABLE weekly_reports ADD COLUMN analysis TEXT NOT NULL DEFAULT '';
ALTER TABLE weekly_reports ADD COLUMN analysed_by INTEGER REFERENCES users(id);
ALTER TABLE weekly_reports ADD COLUMN analysed_at INTEGER;
ALTER TABLE weekly_reports ADD COLUMN acknowledged_by INTEGER REFERENCES users(id);
ALTER TABLE weekly_reports ADD COLUMN acknowledged_at INTEGER;
ALTER TABLE weekly_reports ADD COLUMN director_remarks TEXT NOT NULL DEFAULT '';
ALTER TABLE weekly_reports ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
