DROP TABLE contribution_expenses;
